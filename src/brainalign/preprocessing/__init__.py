"""brainalign.preprocessing"""
