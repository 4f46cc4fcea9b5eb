"""Callers' names on the desk phone: phonebook and colleagues' mobiles.

The orchestrator loads the names into the switch (mod_hash) over the Event
Socket; the dialplan shows the name of a known caller, whatever form the
trunk sends the number in.
"""

from collections.abc import Iterator

import pytest

from orchestrator.esl import Backoff, EslClient, EslGateway
from orchestrator.features.names import CallerNames, name_table, number_forms
from orchestrator.store import models as m


@pytest.fixture
def names(sim, store) -> Iterator[CallerNames]:
    host, port = sim.start_esl(port=0)
    client = EslClient(
        host, port, "ClueCon", connect_timeout=2, backoff=Backoff(0.02, 0.2)
    )
    client.start()
    assert client.wait_ready(5)
    found = CallerNames(store, EslGateway(client))
    found.reload()
    yield found
    client.stop()


def shown_name(sim, caller: str, display: str | None = None) -> str:
    karin = sim.parties.get("karin") or sim.phone("karin", "2311", answers_after=0.5)
    call = sim.dial(caller, "0317492311", display=display, name=f"caller {caller}")
    leg = call.expect_answered_by(karin, within=30)
    call.hangup()
    call.expect_hangup(within=10)
    return leg.profile.caller_id_name


@pytest.mark.parametrize("sent", ["0612345678", "+31612345678", "0031612345678"])
def test_phonebook_caller_by_name(sim, names, sent):
    assert shown_name(sim, sent, display="0612345678") == "Jan de Aannemer"


def test_colleague_on_their_mobile(sim, names, demo):
    lars = demo.user("lars")
    assert shown_name(sim, lars.mobile) == lars.name


def test_unknown_caller_keeps_what_the_network_sent(sim, names):
    assert shown_name(sim, "0209999999", display="Onbekend") == "Onbekend"


def test_a_new_entry_is_sent_on_the_next_sync(sim, names, demo):
    def add(session):
        session.add(m.PhonebookEntry(name="Bakkerij Smit", number="+31201112233"))

    demo.change(add)
    assert names.sync() == len(number_forms("+31201112233"))
    assert names.sync() == 0
    assert shown_name(sim, "0201112233") == "Bakkerij Smit"


def test_names_are_made_safe_for_the_dialplan(store, demo):
    def add(session):
        session.add(m.PhonebookEntry(name="${evil}", number="+31201112234"))
        session.add(m.PhonebookEntry(name="A {b}", number="+31201112235"))

    demo.change(add)
    table = name_table(store)
    assert table["+31201112234"] == "evil"
    assert table["0201112235"] == "A b"
