"""IAM for the local cloud: a pure policy evaluator (:mod:`modelrail.local.iam.policy`)."""
