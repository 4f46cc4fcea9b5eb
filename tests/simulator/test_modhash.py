"""mod_hash in the simulator: the ``hash`` application and api as FreeSWITCH has them."""

from simulator.dialplan import SimpleCall
from simulator.modhash import API_USAGE, table_of
from simulator.scenario import Simulation
from simulator.switch import Switch


def test_api_insert_select_delete():
    switch = Switch()
    assert switch.api("hash", "insert/realm/key/a/b") == "+OK\n"
    assert switch.api("hash", "select/realm/key") == "a/b"
    assert switch.api("hash", "select/realm/other") == ""
    assert (
        switch.api("hash", "insert_ifempty/realm/key/c") == "-ERR key already exists\n"
    )
    assert switch.api("hash", "delete_ifmatch/realm/key/c") == "-ERR Doesn't match\n"
    assert switch.api("hash", "delete_ifmatch/realm/key/a/b") == "+OK\n"
    assert switch.api("hash", "delete/realm/key") == "-ERR Not found\n"
    assert switch.api("hash", "insert_ifempty/realm/key/c") == "+OK\n"
    assert switch.api("hash", "delete/realm/key") == "+OK\n"


def test_api_usage_and_key_joining():
    switch = Switch()
    usage = f"-ERR Usage: hash {API_USAGE}\n"
    assert switch.api("hash", "") == usage
    assert switch.api("hash", "insert/realm/key") == usage
    assert switch.api("hash", "fetch/realm/key") == usage
    # realm and key are joined with "_", as FreeSWITCH does.
    switch.api("hash", "insert/a_b/c/1")
    assert switch.api("hash", "select/a/b_c") == "1"
    assert table_of(switch) == {"a_b_c": "1"}
    assert table_of(Switch()) == {}


DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan">
<context name="public">
  <extension name="count">
    <condition field="destination_number" expression="^count$"/>
    <condition field="${hash(select/rr/g1)}" expression="^1$" break="on-true">
      <action application="hash" data="insert/rr/g1/2"/>
      <action application="set" data="picked=1"/>
      <action application="hash" data="bogus"/>
      <action application="park"/>
    </condition>
    <condition field="destination_number" expression="^count$">
      <action application="hash" data="insert/rr/g1/1"/>
      <action application="set" data="picked=0"/>
      <action application="park"/>
    </condition>
  </extension>
</context></section></document>"""


def test_dialplan_keeps_a_pointer_between_calls(tmp_path):
    (tmp_path / "dialplan.public.xml").write_text(DIALPLAN)
    with Simulation(tmp_path, speed=100) as sim:
        first = sim.dial("0201234567", "count")
        first.expect_parked()
        second = sim.dial("0201234568", "count")
        second.expect_parked()
        assert (first.variable("picked"), second.variable("picked")) == ("0", "1")
        assert sim.switch.api("hash", "select/rr/g1") == "2"
        # The application answers nothing and carries on after bad data.
        events = second.events("CHANNEL_EXECUTE_COMPLETE")
        assert [e.get("Application") for e in events][-1] == "hash"
    assert SimpleCall("x").api("hash", "select/rr/g1") is None
