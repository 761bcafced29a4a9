import t from 'tap';
import { parsePingHeaders } from '../../src/webhook/ping.js';

const valid = {
  'x-goog-channel-id': '4ba78bf0-6a47-11e2-bcfd-0800200c9a66',
  'x-goog-channel-token': 'tok_-abc',
  'x-goog-message-number': '1',
  'x-goog-resource-id': 'ret08u3rv24htgh289g',
  'x-goog-resource-state': 'sync',
  'x-goog-resource-uri': 'https://www.googleapis.com/calendar/v3/calendars/my_calendar@gmail.com/events',
  'x-goog-channel-expiration': 'Tue, 19 Nov 2013 01:13:52 GMT',
};

t.test('Google’s documented ping headers parse into a ping', async (t) => {
  t.same(parsePingHeaders(valid), {
    ok: true,
    ping: {
      channelId: '4ba78bf0-6a47-11e2-bcfd-0800200c9a66',
      token: 'tok_-abc',
      messageNumber: 1,
      resourceId: 'ret08u3rv24htgh289g',
      resourceState: 'sync',
    },
  });
});

t.test('a ping without a token parses with token null (verification then refuses it)', async (t) => {
  const { 'x-goog-channel-token': _omit, ...rest } = valid;
  const parsed = parsePingHeaders(rest);
  t.equal(parsed.ok && parsed.ping.token, null);
});

t.test('message numbers are positive integers that fit a double exactly', async (t) => {
  t.equal(parsePingHeaders({ ...valid, 'x-goog-message-number': '999999999999999' }).ok, true);
  for (const bad of ['0', '-3', '1.5', '1e3', ' 7', '0x10', '9999999999999999']) {
    const parsed = parsePingHeaders({ ...valid, 'x-goog-message-number': bad });
    t.same(parsed.ok ? null : parsed.reason, 'malformed_header', bad);
  }
});

t.test('a repeated header is malformed, never silently picked', async (t) => {
  const parsed = parsePingHeaders({ ...valid, 'x-goog-channel-id': ['a', 'b'] });
  t.same(parsed.ok ? null : parsed.reason, 'malformed_header');
});

t.test('an empty required header counts as missing', async (t) => {
  const parsed = parsePingHeaders({ ...valid, 'x-goog-resource-id': '' });
  t.same(parsed.ok ? null : parsed.reason, 'missing_header');
});
