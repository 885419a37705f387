// FCGI_WEB_SERVER_ADDRS: which peers may connect over TCP (FastCGI 1.0 §3.2), IPv4, IPv6 and CIDR.
import { BlockList, isIP } from 'node:net';
import { plainAddress } from '../shared/peer-address.js';

/** Decides whether a TCP peer may talk to the listener. */
export interface PeerFilter {
  /** True when `remoteAddress` (as node reports it, v4-mapped or not) is in the list. */
  allows(remoteAddress: string | undefined): boolean;
  /** The list as given, for the start log line. */
  readonly description: string;
}

/**
 * Parses FCGI_WEB_SERVER_ADDRS: comma-separated addresses (the spec: IPv4 "list of valid IP addresses"; we
 * also take IPv6 and `addr/prefix` subnets). Returns undefined when unset or empty, which means "anyone" as
 * the spec says. A bad entry is an error, not a silently smaller list.
 */
export function parseWebServerAddrs(value: string | undefined): PeerFilter | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const list = new BlockList();
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    const [host = '', prefix] = entry.split('/');
    const family = isIP(host);
    if (family === 0) throw new Error(`FCGI_WEB_SERVER_ADDRS: '${entry}' is not an IP address`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(host, type);
      // A v4 address must also match when it arrives as ::ffff:a.b.c.d on a dual-stack socket.
      if (family === 4) list.addAddress(`::ffff:${host}`, 'ipv6');
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) {
      throw new Error(`FCGI_WEB_SERVER_ADDRS: '${entry}' has a bad prefix length`);
    }
    list.addSubnet(host, bits, type);
    if (family === 4) list.addSubnet(`::ffff:${host}`, 96 + bits, 'ipv6');
  }
  return {
    description: entries.join(','),
    allows(remoteAddress) {
      if (remoteAddress === undefined) return false;
      const address = plainAddress(remoteAddress);
      const family = isIP(address);
      if (family === 0) return false;
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
