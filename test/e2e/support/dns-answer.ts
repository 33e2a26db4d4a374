// The answer of a tiny authoritative test resolver: every A query gets one fixed address, any
// other type an empty answer, and anything that is not a well-formed query no answer at all.
// For resolvers the DNS tests (and benches) start inside namespaces as "the OS's" upstreams.
import dnsPacket from 'dns-packet';

/** The response packet to `query` (A → `address`), or undefined when it should go unanswered. */
export function fixedAAnswer(query: Uint8Array, address: string): Buffer | undefined {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(Buffer.from(query));
  } catch {
    return undefined;
  }
  const qq = q.questions?.[0];
  if (!qq || q.type !== 'query') return undefined;
  const answers: dnsPacket.Answer[] = qq.type === 'A' ? [{ type: 'A', name: qq.name, ttl: 60, data: address }] : [];
  return dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions!, answers });
}
