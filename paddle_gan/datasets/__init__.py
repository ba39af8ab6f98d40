"""The data sources: `uniform` (built in), `mnist` and `cifar` (read from disk), each a module
with a `load(settings)` registered in paddle_gan.registry.DATASETS; `base` holds the in-memory
data set and the sampler that hands out its shuffled batches."""
