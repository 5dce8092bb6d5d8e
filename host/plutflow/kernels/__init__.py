"""Array kernels shared by the float reference and the golden integer executor.

They are written once, for any number of spatial dimensions, and parameterised by the
dot product so that the float and the integer paths index windows identically.
"""
