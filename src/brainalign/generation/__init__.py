"""brainalign.generation"""
