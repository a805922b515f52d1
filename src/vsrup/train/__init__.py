"""Training the methods that ship without public weights (`vsrup train`).

Layers inside this package point one way: `data` and `degradations` (clips and their LR side)
→ `objectives` (one module per method: what is trained and its loss) → `loop` (accelerate:
processes, mixed precision, accumulation, checkpoints) → `validate` and `export`.
Everything random is drawn from generators seeded by (run seed, step, sample index), so a
resumed run and a run split over several processes see exactly the same samples and noise.
"""
