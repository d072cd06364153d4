"""Monitoring and continuous training: the retraining policy, its ledger and (to come)
the ground-truth join and delivery metrics. Pure core plus thin stores."""
