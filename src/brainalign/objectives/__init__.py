"""brainalign.objectives"""
