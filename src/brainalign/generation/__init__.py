"""brainalign.generation: images and text from EEG embeddings.

Modules (import them directly; this package imports nothing heavy):

* :mod:`~brainalign.generation.gan`: conditional GAN (mapping network, AdaIN generator,
  projection discriminator, EMA, R1), resolution a parameter, safetensors + JSON.
* :mod:`~brainalign.generation.augment`: kornia DiffAugment and the ADA-style controller.
* :mod:`~brainalign.generation.image_map`: image features -> EEG space (ridge / MLP),
  n-way identification, the class-conditional code.
* :mod:`~brainalign.generation.text`: EEG -> text by retrieval or a small transformer
  decoder on MiniLM's WordPiece tokens, evaluated free-running from EEG alone.
* :mod:`~brainalign.generation.metrics`: ``fd_effnet`` / ``kid_effnet`` with the
  real-vs-real floor, class-consistency probe, diversity, memorisation; attribute
  accuracy, BLEU / ROUGE, distinct-n.
* :mod:`~brainalign.generation.multitask`: per-modality masked loss averaging.
* :mod:`~brainalign.generation.images`, :mod:`~brainalign.generation.figures`: image
  loading, EfficientNet-Lite0 features, grids and sentence tables.
"""
