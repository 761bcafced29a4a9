import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Which subscriber URLs calsync will post to. A webhook URL is chosen by whoever holds the admin
 * token, but what it resolves to can change later (DNS rebinding), so the address is checked when
 * the connection is made, by the lookup the socket itself uses: the checked address is the one
 * connected to.
 */

export class SubscriberUrlError extends Error {
  readonly code = 'INVALID_SUBSCRIBER_URL';
  readonly statusCode = 400;
  constructor(message: string) {
    super(message);
    this.name = 'SubscriberUrlError';
  }
}

export interface AddressPolicy {
  /** Development: loopback addresses (and plain http to them) are allowed. */
  allowLoopback: boolean;
}

/** Public unicast only; loopback when the policy allows it. Private, link-local, CGNAT, multicast, … never. */
export function addressAllowed(address: string, policy: AddressPolicy): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  return range === 'unicast' || (range === 'loopback' && policy.allowLoopback);
}

const isLoopbackHost = (host: string): boolean => host === 'localhost' || (ipaddr.isValid(host) && ipaddr.parse(host).range() === 'loopback');
const bare = (hostname: string): string => hostname.replace(/^\[|\]$/g, '');

/** Checks a URL's shape (not yet its DNS): https, or http to loopback when allowed; no credentials. */
export function checkSubscriberUrl(raw: string, policy: AddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SubscriberUrlError('url is not a valid absolute URL');
  }
  const host = bare(url.hostname);
  if (url.username || url.password) throw new SubscriberUrlError('url must not carry credentials');
  if (url.hash) throw new SubscriberUrlError('url must not have a fragment');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowLoopback && isLoopbackHost(host))) {
    throw new SubscriberUrlError(policy.allowLoopback ? 'url must be https:// (or http:// to a loopback address)' : 'url must be https://');
  }
  if (host === 'localhost' && !policy.allowLoopback) throw new SubscriberUrlError('url must not point at a loopback, private or link-local address');
  if (isIP(host) !== 0 && !addressAllowed(host, policy)) throw new SubscriberUrlError('url must not point at a loopback, private or link-local address');
  return url;
}

/** Resolves the URL's host now and refuses it when any address is not allowed (a clear error at creation). */
export async function checkSubscriberHost(url: URL, policy: AddressPolicy): Promise<void> {
  const host = bare(url.hostname);
  if (isIP(host) !== 0) return;
  const addrs = await new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(host, { all: true }, (err, a) => (err ? reject(err) : resolve(a)))).catch(() => {
    throw new SubscriberUrlError('url host does not resolve');
  });
  if (addrs.length === 0 || addrs.some((a) => !addressAllowed(a.address, policy))) {
    throw new SubscriberUrlError('url must not point at a loopback, private or link-local address');
  }
}

/** A `lookup` for http(s).request: resolves, refuses any disallowed address, and connects to a checked one. */
export function pinnedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family }, (err, addrs) => {
      if (err) return callback(err, '', 4);
      const allowed = addrs.filter((a) => addressAllowed(a.address, policy));
      if (allowed.length === 0 || allowed.length !== addrs.length) {
        const refused = Object.assign(new Error('subscriber address is not allowed'), { code: 'ADDRESS_REFUSED' });
        return callback(refused, '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
