import pytest

from orchestrator.domain.callerid import (
    CallerIdError,
    Choice,
    MobileCliNotAllowed,
    check_policy,
    name_book,
    outbound_number,
)
from orchestrator.store import models as m

MAIN = "+31317492300"


def user(**kw) -> m.User:
    values = dict(
        id=1,
        name="Anna",
        did="+31317492301",
        mobile="+31612345678",
        caller_id_policy="did",
        caller_id_group_number=None,
        private_mobile_cli=False,
        active=True,
    )
    values.update(kw)
    return m.User(**values)


def test_policy_did_main_group():
    assert outbound_number(user(), MAIN) == "+31317492301"
    assert outbound_number(user(caller_id_policy="main"), MAIN) == MAIN
    assert (
        outbound_number(
            user(caller_id_policy="group", caller_id_group_number="+31317492500"), MAIN
        )
        == "+31317492500"
    )
    assert outbound_number(user(did=None), MAIN) == MAIN


def test_main_number_for_one_call():
    assert outbound_number(user(), MAIN, Choice.MAIN) == MAIN


def test_private_mobile_only_where_allowed():
    with pytest.raises(MobileCliNotAllowed, match="may not present their mobile"):
        outbound_number(user(), MAIN, Choice.MOBILE)
    allowed = user(private_mobile_cli=True)
    assert outbound_number(allowed, MAIN, Choice.MOBILE) == "+31612345678"
    with pytest.raises(CallerIdError, match="no mobile number"):
        outbound_number(user(private_mobile_cli=True, mobile=None), MAIN, Choice.MOBILE)


def test_check_policy():
    check_policy(user(), None)
    with pytest.raises(CallerIdError, match="no main number"):
        check_policy(user(caller_id_policy="main"), None)
    with pytest.raises(CallerIdError, match="group number"):
        check_policy(user(caller_id_policy="group"), MAIN)


def test_name_book_prefers_colleagues():
    entries = [
        m.PhonebookEntry(name="Jan", number="+31612345678"),
        m.PhonebookEntry(name="Provincie", number="+31263599999"),
    ]
    names = name_book(
        [user(), user(id=2, name="Gone", did="+31263599999", active=False)], entries
    )
    assert names["+31612345678"] == "Anna"
    assert names["+31317492301"] == "Anna"
    assert names["+31263599999"] == "Provincie"
