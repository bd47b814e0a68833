"""ffld: Fine-grained facial landmark detection (Yan, Duffner et al., CVIU 2020).

Coordinate convention used everywhere in the library: landmarks are ``(x, y)`` pairs of 0-based pixel
coordinates, the centre of the top-left pixel being ``(0, 0)``.
"""

__version__ = "0.1.0"
