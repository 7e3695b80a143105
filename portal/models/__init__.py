"""All models, one module per aggregate. Import from here."""

from .adoption import Adoption, AdoptionMember, AdoptionRecord
from .agency import AGENCY_ACTIVE, AGENCY_SUSPENDED, Agency, Domain
from .audience import Contact, Field, MailingList, Segment, Subscription
from .audit import AuditEvent
from .batch import BatchFile, BatchRun, BatchSource
from .campaign import Campaign, Delivery, Event, ImageAsset, SenderDomain, SenderIdentity
from .client import CLIENT_ACTIVE, CLIENT_SUSPENDED, Client
from .connection import Connection
from .forms import CompatAccess, SubscribeForm, SubscribeRequest
from .jobrun import JobRun
from .provider import ProviderBinding
from .sms import (
    CreditAccount,
    CreditEntry,
    SmsAgencySettings,
    SmsClientSettings,
    SmsPrice,
    SmsReply,
    SmsSenderId,
)
from .suppression import BlockedAddress, Suppression
from .token import ActionToken
from .transfer import ContactImport
from .twofactor import RecoveryCode, TotpCredential
from .user import Membership, User
from .webservice import ApiKey, IdempotencyRecord, SubscriptionChange, Webhook, WebhookDelivery

__all__ = [
    "AGENCY_ACTIVE",
    "AGENCY_SUSPENDED",
    "CLIENT_ACTIVE",
    "CLIENT_SUSPENDED",
    "ActionToken",
    "Adoption",
    "AdoptionMember",
    "AdoptionRecord",
    "ApiKey",
    "IdempotencyRecord",
    "SubscriptionChange",
    "Webhook",
    "WebhookDelivery",
    "BatchFile",
    "BatchRun",
    "BatchSource",
    "BlockedAddress",
    "Campaign",
    "Delivery",
    "Event",
    "ImageAsset",
    "SenderDomain",
    "SenderIdentity",
    "Contact",
    "ContactImport",
    "Field",
    "MailingList",
    "Segment",
    "Subscription",
    "Suppression",
    "Agency",
    "AuditEvent",
    "Client",
    "Connection",
    "CompatAccess",
    "SubscribeForm",
    "SubscribeRequest",
    "Domain",
    "JobRun",
    "Membership",
    "ProviderBinding",
    "CreditAccount",
    "CreditEntry",
    "SmsAgencySettings",
    "SmsClientSettings",
    "SmsPrice",
    "SmsReply",
    "SmsSenderId",
    "RecoveryCode",
    "TotpCredential",
    "User",
]
