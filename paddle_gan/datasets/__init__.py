"""The data sources: `uniform`, `ring` and `grid` (2-D points drawn from a known distribution),
`mnist` and `cifar` (read from disk), each a module with a `load(settings)` registered in
paddle_gan.registry.DATASETS; `base` holds the in-memory data set, the sampler that hands out
its shuffled batches and the drawing of 2-D points."""
