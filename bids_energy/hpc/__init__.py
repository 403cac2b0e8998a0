"""HPC: Slurm job scripts and their submission."""
