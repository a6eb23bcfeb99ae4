"""The end-to-end demo (`make demo`): synthetic data → tiny model → cold-start SFT → G2RPO RL → report.

Run it with `python -m g2rpo.demo.pipeline --out outputs/demo`; see `g2rpo.demo.pipeline`.
"""
