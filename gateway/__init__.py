"""gateway: the host. What plugins may use is exported here and nowhere else."""
