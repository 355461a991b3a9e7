"""Training: PPO with stable-baselines3 (MaskablePPO, parameter sharing over SuperSuit) and policy export.

``orbit-env train --scenario NAME`` runs ``train.ppo.train`` with ``train/configs/NAME.toml``.
"""
