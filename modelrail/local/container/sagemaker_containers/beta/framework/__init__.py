"""Stand-in for the container's ``sagemaker_containers.beta.framework`` (see README.md)."""
