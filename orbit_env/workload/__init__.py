"""Workloads: the model catalog, arrival generators and trace replay."""
