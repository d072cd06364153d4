"""One modelrail environment: the stack composed from its constructs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.deployment import Deployment, DeploymentResources
from infra.constructs.monitoring import Monitoring, MonitoringResources
from infra.constructs.pipeline import PipelineResources, TrainingPipeline
from infra.constructs.storage import RegistryTable, Storage, allow_alarm_notifications


class ModelrailStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # The cdk-nag acknowledgments made for this stack (infra/nag.py), for the tests.
        self.acknowledgments: list[tuple[str, str]] = []
        self.storage = Storage(self, "Storage", environment=config.name, retain=config.retain_data)
        self.registry = RegistryTable(
            self, "Registry", key=self.storage.key, retain=config.retain_data
        )
        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"modelrail {config.name}",
            master_key=self.storage.key,
            enforce_ssl=True,
        )
        allow_alarm_notifications(self.topic, config.name)
        self.deployment = Deployment(
            self,
            "Deploy",
            res=DeploymentResources(
                config=config,
                key=self.storage.key,
                artifacts_bucket=self.storage.artifacts,
                registry_table=self.registry.table,
                topic=self.topic,
            ),
        )
        self.pipeline = TrainingPipeline(
            self,
            "Training",
            res=PipelineResources(
                config=config,
                key=self.storage.key,
                data_bucket=self.storage.data,
                artifacts_bucket=self.storage.artifacts,
                registry_table=self.registry.table,
                topic=self.topic,
                deployment=self.deployment.state_machine if config.deploy_after_training else None,
            ),
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            res=MonitoringResources(
                config=config,
                key=self.storage.key,
                data_bucket=self.storage.data,
                artifacts_bucket=self.storage.artifacts,
                registry_table=self.registry.table,
                topic=self.topic,
                training=self.pipeline.state_machine,
                dead_letters=self.pipeline.dead_letters,
            ),
        )

        # Outputs are how the CLI and the local cloud find the resources.
        for name, value in {
            "DataBucketName": self.storage.data.bucket_name,
            "ArtifactsBucketName": self.storage.artifacts.bucket_name,
            "RegistryTableName": self.registry.table.table_name,
            "NotificationsTopicArn": self.topic.topic_arn,
            "TrainingStateMachineArn": self.pipeline.state_machine.state_machine_arn,
            "DeploymentStateMachineArn": self.deployment.state_machine.state_machine_arn,
            "MonitoringStateMachineArn": self.monitoring.state_machine.state_machine_arn,
            "DeadLetterQueueUrl": self.pipeline.dead_letters.queue_url,
        }.items():
            CfnOutput(self, name, value=value)
