"""brainalign.training"""
