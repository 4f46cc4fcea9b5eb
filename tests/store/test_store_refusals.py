"""The store refuses what cannot work, with a message naming the field.

Run on SQLite and on PostgreSQL: single values are refused by the models,
everything that needs more than one row by the publish validation, and the
database's own constraints stand behind both.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.config import revisions, validate
from orchestrator.store import models as m
from orchestrator.store.db import Store


def small_org(session: Session) -> None:
    session.add(
        m.Organisation(
            name="Test", main_number="+31317492300", extension_ranges="2000-2999"
        )
    )
    session.add(m.NumberBlock(first="+31317492300", size=100))
    anna = m.User(username="anna", name="Anna", did="+31317492301", extension="2301")
    anna.devices = [m.Device(sip_user="2301", sip_password="secret-anna")]
    bram = m.User(username="bram", name="Bram", did="+31317492302", extension="2302")
    session.add_all([anna, bram, m.Queue(name="KCC", extension="2400")])


@pytest.fixture
def org(store: Store) -> Store:
    revisions.publish(store, "test", "small organisation", small_org)
    return store


def _state(store: Store) -> list[str]:
    with store.session() as session:
        return revisions.snapshot_lines(revisions.snapshot(session))


def _refused(
    store: Store, change: Callable[[Session], None]
) -> validate.ValidationError:
    before = _state(store)
    with pytest.raises(validate.ValidationError) as refused:
        revisions.publish(store, "test", "refused", change)
    assert _state(store) == before
    with store.session() as session:
        assert len(session.scalars(select(m.ConfigRevision)).all()) == 1
    return refused.value


def _user(session: Session, username: str) -> m.User:
    return session.scalars(select(m.User).where(m.User.username == username)).one()


@pytest.mark.parametrize("text", ["abc", "0317 49 2301", "+31", "+0317492301"])
def test_a_number_that_is_not_a_number(text: str) -> None:
    with pytest.raises(m.StoreError) as refused:
        m.User(username="x", name="X", did=text, mobile=text)
    assert refused.value.field in ("did", "mobile")
    assert "number" in refused.value.message


def test_a_number_that_is_not_a_number_through_publish(org: Store) -> None:
    def change(session: Session) -> None:
        _user(session, "bram").did = "not a number"

    error = _refused(org, change)
    assert isinstance(error, validate.InvalidValue)
    assert error.field == "did"
    assert "'not a number' is not a normalised (E.164) number" in error.message


def test_a_did_given_twice(org: Store) -> None:
    def change(session: Session) -> None:
        session.add(m.User(username="carla", name="Carla", did="+31317492301"))

    error = _refused(org, change)
    assert isinstance(error, validate.NumberInUse)
    assert error.field == "did"
    assert "+31317492301 is already the number of user 'Anna'" in str(error)


def test_a_did_given_to_a_user_and_an_inbound_number(org: Store) -> None:
    def change(session: Session) -> None:
        queue = session.scalars(select(m.Queue)).one()
        session.add(
            m.InboundNumber(
                number="+31317492302", target_type="queue", target_id=queue.id
            )
        )

    error = _refused(org, change)
    assert isinstance(error, validate.NumberInUse)
    assert (error.field, error.item) == ("number", "inbound number '+31317492302'")


def test_the_database_refuses_a_duplicate_did_too(org: Store) -> None:
    with pytest.raises(IntegrityError), org.session() as session:
        session.add(m.User(username="carla", name="Carla", did="+31317492301"))


def test_an_extension_outside_its_range(org: Store) -> None:
    def change(session: Session) -> None:
        _user(session, "bram").extension = "4302"

    error = _refused(org, change)
    assert isinstance(error, validate.ExtensionOutOfRange)
    assert error.field == "extension"
    assert "4302 is outside the extension ranges 2000-2999" in error.message


def test_an_extension_given_twice(org: Store) -> None:
    def change(session: Session) -> None:
        _user(session, "bram").extension = "2400"

    error = _refused(org, change)
    assert isinstance(error, validate.ExtensionInUse)
    assert "2400 is already the extension of queue 'KCC'" in error.message


def test_a_number_outside_every_block(org: Store) -> None:
    def change(session: Session) -> None:
        queue = session.scalars(select(m.Queue)).one()
        session.add(
            m.InboundNumber(
                number="+31207654321", target_type="queue", target_id=queue.id
            )
        )

    error = _refused(org, change)
    assert isinstance(error, validate.NumberOutsideBlocks)
    assert error.field == "number"
    assert "020 765 4321 is not in any number block" in error.message


@pytest.mark.parametrize(
    ("kind", "target_id", "message"),
    [
        ("queue", 999, "there is no queue 999"),
        ("hunt_group", 1, "there is no hunt group 1"),
        ("ivr", None, "there is no ivr None"),
        ("user", 999, "there is no user 999"),
    ],
)
def test_a_reference_to_something_that_does_not_exist(
    org: Store, kind: str, target_id: int | None, message: str
) -> None:
    def change(session: Session) -> None:
        session.add(
            m.InboundNumber(
                number="+31317492350", target_type=kind, target_id=target_id
            )
        )

    error = _refused(org, change)
    assert isinstance(error, validate.UnresolvedReference)
    assert error.field == "target_type"
    assert message in error.message


def test_a_schedule_that_does_not_exist(org: Store) -> None:
    def change(session: Session) -> None:
        session.scalars(select(m.Queue)).one().schedule_id = 77

    error = _refused(org, change)
    assert isinstance(error, validate.UnresolvedReference)
    assert (error.field, error.message) == (
        "schedule_id",
        "there is no time schedule 77",
    )


def test_restore_then_carry_on_adding(org: Store) -> None:
    def add(session: Session) -> None:
        session.add(m.User(username="carla", name="Carla", did="+31317492303"))

    revisions.publish(org, "test", "carla", add)
    revisions.restore(org, 1, "test")

    def add_two(session: Session) -> None:
        session.add_all(
            [
                m.User(username="dirk", name="Dirk", did="+31317492304"),
                m.User(username="eva", name="Eva", did="+31317492305"),
            ]
        )

    # The ids the restore wrote back must not be handed out again.
    published = revisions.publish(org, "test", "two more", add_two)
    assert published.id == 4
    with org.session() as session:
        names = sorted(u.username for u in session.scalars(select(m.User)))
    assert names == ["anna", "bram", "dirk", "eva"]
