"""The domain model: one module per aggregate, all importable from here."""

from hub.models.account import Account, Contact, SubscriptionChange
from hub.models.activity import Event, MetricSample
from hub.models.feedback import Survey, SurveyResponse
from hub.models.growth import (
    GrowthConfigVersion,
    Offer,
    Referral,
    ReferralCode,
    RewardLedgerEntry,
)
from hub.models.inbox import InboxEvent
from hub.models.integration import ConnectorConfig, IntegrationSetting, PushLedger, SyncState
from hub.models.journeys import JourneyEnrolment, Milestone, PlaybookVersion, StepOutcome
from hub.models.kpi import KpiRollup, KpiSetting
from hub.models.outbox import OutboxMessage
from hub.models.rollups import EventDaily, MetricDaily, RollupDay, RollupState
from hub.models.salesforce import SalesforceRecord, SalesforceWork
from hub.models.scores import ChurnModelVersion, ChurnPrediction, HealthConfigVersion, HealthScore
from hub.models.security import ApiToken, AuditLog, User

__all__ = [
    "Account",
    "ApiToken",
    "AuditLog",
    "ChurnModelVersion",
    "ChurnPrediction",
    "ConnectorConfig",
    "Contact",
    "Event",
    "EventDaily",
    "GrowthConfigVersion",
    "HealthConfigVersion",
    "HealthScore",
    "InboxEvent",
    "IntegrationSetting",
    "JourneyEnrolment",
    "KpiRollup",
    "KpiSetting",
    "MetricDaily",
    "MetricSample",
    "Milestone",
    "Offer",
    "OutboxMessage",
    "PlaybookVersion",
    "PushLedger",
    "Referral",
    "ReferralCode",
    "RewardLedgerEntry",
    "RollupDay",
    "RollupState",
    "SalesforceRecord",
    "SalesforceWork",
    "StepOutcome",
    "SubscriptionChange",
    "Survey",
    "SurveyResponse",
    "SyncState",
    "User",
]
