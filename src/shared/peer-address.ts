// How a client's address is reported: one rule for every front end, log line and address check.

// A dual-stack socket reports an IPv4 peer as an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2, ::ffff:a.b.c.d).
const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * The address as a CGI server reports it (`REMOTE_ADDR`, access logs): an IPv4 client on a dual-stack socket is
 * `a.b.c.d`, not `::ffff:a.b.c.d`. Any other address is returned as it is.
 */
export function plainAddress(address: string): string;
export function plainAddress(address: string | undefined): string | undefined;
export function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined || address.charCodeAt(0) !== 58 /* ":" */) return address;
  return IPV4_MAPPED.exec(address)?.[1] ?? address;
}
