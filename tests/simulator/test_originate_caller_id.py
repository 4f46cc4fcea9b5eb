"""The caller ID a bridged leg gets: the A leg's effective caller ID, unless
the dial string names origination_caller_id_* (switch_core_session.c)."""

DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan">
<context name="public">
  <extension name="effective">
    <condition field="destination_number" expression="^(1|2)$">
      <action application="set" data="effective_caller_id_name=Gemeente"/>
      <action application="set" data="effective_caller_id_number=+31317492300"/>
      <action application="bridge" data="sofia/gateway/trunk/+3161234567$1"/>
    </condition>
  </extension>
  <extension name="plain">
    <condition field="destination_number" expression="^3$">
      <action application="bridge" data="sofia/gateway/trunk/+31612345673"/>
    </condition>
  </extension>
</context></section></document>"""


def test_bridged_leg_shows_the_effective_caller_id(tmp_path):
    from simulator.scenario import Simulation

    (tmp_path / "dialplan.public.xml").write_text(DIALPLAN)
    with Simulation(tmp_path, speed=50) as sim:
        one = sim.mobile("one", "+31612345671", answers_after=0.5)
        three = sim.mobile("three", "+31612345673", answers_after=0.5)
        leg = sim.dial("0201234567", "1", display="Jan").expect_answered_by(one)
        assert (leg.profile.caller_id_name, leg.profile.caller_id_number) == (
            "Gemeente",
            "+31317492300",
        )
        leg = sim.dial("0201234567", "3", display="Jan").expect_answered_by(three)
        assert (leg.profile.caller_id_name, leg.profile.caller_id_number) == (
            "Jan",
            "0201234567",
        )


def test_origination_caller_id_wins(tmp_path):
    from simulator.scenario import Simulation

    dialplan = DIALPLAN.replace(
        "sofia/gateway/trunk/+3161234567$1",
        "[origination_caller_id_number=+31317492311]sofia/gateway/trunk/+3161234567$1",
    )
    (tmp_path / "dialplan.public.xml").write_text(dialplan)
    with Simulation(tmp_path, speed=50) as sim:
        two = sim.mobile("two", "+31612345672", answers_after=0.5)
        leg = sim.dial("0201234567", "2").expect_answered_by(two)
        assert (leg.profile.caller_id_name, leg.profile.caller_id_number) == (
            "Gemeente",
            "+31317492311",
        )
