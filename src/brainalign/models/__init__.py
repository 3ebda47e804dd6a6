"""brainalign.models"""
