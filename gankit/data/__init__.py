"""Real data: toy mixtures with exact densities (and, later, image data sets)."""
