"""Deployment: SageMaker endpoints with canary rollout and alarm-driven rollback."""
