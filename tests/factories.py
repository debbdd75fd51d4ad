"""factory_boy factories for the configuration rows tests need."""

import factory

from reviewqueue.lib import keys
from reviewqueue.models import (
    ActionType,
    ApiKey,
    Membership,
    Queue,
    QueueActionType,
    Source,
    SourceQueue,
    User,
)

TEST_PASSWORD = "correct horse battery staple"

REFUND_SCHEMA = {
    "type": "object",
    "required": ["order_id", "amount"],
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number", "minimum": 0},
        "note": {"type": "string"},
    },
}


class ActionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionType
        django_get_or_create = ("name",)

    name = "refund.issue"
    executor = "noop"
    payload_schema = REFUND_SCHEMA
    cosmetic_fields = ["note"]


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"queue-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    stage = "approval"
    reason_codes = ["wrong_amount", "policy_violation", "other"]
    sla_minutes = 60
    # Undo off: a test's decision executes at once. Tests of undo set their window
    # (the product's default is 10 s, config_schema.py).
    undo_seconds = 0

    @factory.post_generation
    def action_types(self, create, extracted, **kwargs):
        for action_type in extracted or [ActionTypeFactory()]:
            QueueActionType.objects.get_or_create(queue=self, action_type=action_type)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"source-{n}")

    @factory.post_generation
    def queues(self, create, extracted, **kwargs):
        for queue in extracted or []:
            SourceQueue.objects.get_or_create(source=self, queue=queue)


def make_key(source: Source, **fields) -> str:
    """A real key row for `source`; returns the plain key."""
    plain, prefix, digest = keys.generate(keys.SOURCE_KEY_KIND)
    ApiKey.objects.create(source=source, prefix=prefix, key_hash=digest, **fields)
    return plain


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    role = "reviewer"
    password = factory.django.Password(TEST_PASSWORD)


def member(user: User, queue: Queue, role: str = "reviewer") -> Membership:
    return Membership.objects.create(user=user, queue=queue, role=role)
