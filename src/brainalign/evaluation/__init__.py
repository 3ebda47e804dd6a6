"""brainalign.evaluation"""
