"""Neighbours, analogies and similarity over the model's matrix: ``results`` (what is
returned), ``words`` (typed words -> rows), ``scan`` (the blocked top-k pass and the exact
order), ``ranking`` (the queries)."""
