"""Directory answers with a <users> list, as FreeSWITCH accepts them."""

from xml.etree import ElementTree

from simulator.xmlcurl import find_user

ANSWER = """<document type="freeswitch/xml"><section name="directory">
<domain name="pbx.local">
  <params><param name="dial-string" value="x"/></params>
  <users>
    <user id="2302"><params><param name="vm-password" value="5419"/></params>
      <variables><variable name="user_context" value="default"/></variables>
    </user>
  </users>
</domain></section></document>"""


def test_user_inside_a_users_list_is_found():
    user = find_user(ElementTree.fromstring(ANSWER), "2302", "pbx.local")
    assert user is not None
    assert user.params["vm-password"] == "5419"
    assert user.variables["user_context"] == "default"
    assert user.dial_string == "x"
    assert find_user(ElementTree.fromstring(ANSWER), "2303", "pbx.local") is None
