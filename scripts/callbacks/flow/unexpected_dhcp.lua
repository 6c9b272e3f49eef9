--
-- unexpected_dhcp: DHCP answers from a server that is not an allowed DHCP server (ntopng's
-- "Unexpected DHCP Server"): rogue DHCP servers. DHCP/DHCPv6 by nDPI, or UDP ports 67/547 when
-- nDPI does not know the flow. Broadcast and multicast destinations are not servers.
--
-- Configure the allowed servers (addresses or CIDRs, IPv4 and IPv6) in
-- <data-dir>/scripts_config.json:
--   {"flow": {"unexpected_dhcp": {"enabled": true,
--                      "value": {"items": ["192.168.1.1", "fe80::1"]}}}}
-- Disabled by default; while the list is empty the script raises nothing.
--
local user_scripts = require "user_scripts"

local SPEC = {
   status = "unexpected_dhcp",
   what = "DHCP",
   l7 = { DHCP = true, DHCPV6 = true }, -- nDPI protocol names (master or application)
   wrappers = {}, -- L7 protocols that may carry it on its ports
   ports = { [67] = true, [547] = true },
   flow_score = 100, cli_score = 10, srv_score = 100,
}

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = false,
   default_value = { items = {} },
   l4_proto = "udp",
   gui = {
      i18n_title = "Unexpected DHCP Server",
      i18n_description = "DHCP and DHCPv6 traffic with a server that is not an allowed DHCP server",
      input_builder = user_scripts.items_list_input_builder,
      item_list_type = "ip_address",
      input_title = "Allowed DHCP servers",
      input_description = "Addresses or networks (CIDR) of the allowed DHCP servers",
   },
   hooks = {},
}

return require("unexpected_server").make(SPEC, script)
