/// The Lua scripts behind every write and every multi-key read. Each runs
/// atomically in Redis, so a rotation or a revocation is one step for every
/// instance sharing the server. Keys are built inside the scripts from the
/// prefix (ARGV[1]): one Redis server, not a cluster.
///
/// Data model, under the prefix P:
/// - `P rev`          hash: revocation id -> "seq|created|until|kind|before|value"
/// - `P rev:seq`      zset: id by seq (creation order: the list cursor)
/// - `P rev:until`    zset: id by until (expiry)
/// - `P rev:next`     counter for seq
/// - `P rev:sub:<sub>` zset: subject revocation ids by `before`
/// - `P session:<sid>` hash: sub, claims, start, expires (ms), rid (the id of
///   the session's `sid` revocation, computed in Swift: Lua has no SHA-256)
/// - `P token:<hex sha256>` hash: sid, issued (ms), used (ms, once), rid
/// - channel `P revocations`: "+id|entry" on add or a later until, "-id" on removal
enum RedisScript: CaseIterable {
    case addRevocation, deleteRevocation, listRevocations, expireRevocations
    case startSession, rotate, endSession

    var source: String {
        switch self {
        case .addRevocation: return Self.prelude + Self.add
        case .deleteRevocation: return Self.prelude + Self.delete
        case .listRevocations: return Self.prelude + Self.list
        case .expireRevocations: return Self.prelude + Self.expire
        case .startSession: return Self.prelude + Self.start
        case .rotate: return Self.prelude + Self.rotateBody
        case .endSession: return Self.prelude + Self.end
        }
    }

    // Shared functions. Numbers stay strings where they are stored, so Lua's
    // doubles never reformat a value; they are converted only to compare.
    private static let prelude = #"""
    local P = ARGV[1]
    local K_REV, K_SEQ, K_UNTIL, K_NEXT = P .. 'rev', P .. 'rev:seq', P .. 'rev:until', P .. 'rev:next'
    local CHANNEL = P .. 'revocations'

    local function decode(enc)
      return string.match(enc, '^(%d+)|(%-?%d+)|(%-?%d+)|(%a+)|(%-?%d*)|(.*)$')
    end

    local function add_rev(id, kind, value, before, created, untl)
      local cur = redis.call('HGET', K_REV, id)
      if cur then
        local seq, c0, u0, k0, b0, v0 = decode(cur)
        if tonumber(untl) > tonumber(u0) then
          local enc = seq .. '|' .. c0 .. '|' .. untl .. '|' .. k0 .. '|' .. b0 .. '|' .. v0
          redis.call('HSET', K_REV, id, enc)
          redis.call('ZADD', K_UNTIL, untl, id)
          redis.call('PUBLISH', CHANNEL, '+' .. id .. '|' .. enc)
          return enc
        end
        return cur
      end
      local seq = string.format('%d', redis.call('INCR', K_NEXT))
      local enc = seq .. '|' .. created .. '|' .. untl .. '|' .. kind .. '|' .. before .. '|' .. value
      redis.call('HSET', K_REV, id, enc)
      redis.call('ZADD', K_SEQ, seq, id)
      redis.call('ZADD', K_UNTIL, untl, id)
      if kind == 'sub' then redis.call('ZADD', P .. 'rev:sub:' .. value, before, id) end
      redis.call('PUBLISH', CHANNEL, '+' .. id .. '|' .. enc)
      return enc
    end

    local function del_rev(id)
      local cur = redis.call('HGET', K_REV, id)
      if not cur then return 0 end
      local _, _, _, kind, _, value = decode(cur)
      redis.call('HDEL', K_REV, id)
      redis.call('ZREM', K_SEQ, id)
      redis.call('ZREM', K_UNTIL, id)
      if kind == 'sub' then redis.call('ZREM', P .. 'rev:sub:' .. value, id) end
      redis.call('PUBLISH', CHANNEL, '-' .. id)
      return 1
    end

    local function live(id, now_s)
      local cur = redis.call('HGET', K_REV, id)
      if not cur then return false end
      local _, _, u = decode(cur)
      return tonumber(u) >= now_s
    end

    -- Revoked: the session's sid revocation is live, or a live subject
    -- revocation of its sub has before > the session's start.
    local function session_revoked(rid, sub, start_ms, now_s)
      if live(rid, now_s) then return true end
      local ids = redis.call('ZRANGEBYSCORE', P .. 'rev:sub:' .. sub, '(' .. (start_ms / 1000), '+inf')
      for _, id in ipairs(ids) do
        if live(id, now_s) then return true end
      end
      return false
    end

    """#

    // ARGV: P, id, kind, value, before ('' unless sub), created, until -> entry
    private static let add = #"""
    return add_rev(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
    """#

    // ARGV: P, id -> 1 when it existed
    private static let delete = #"""
    return del_rev(ARGV[2])
    """#

    // ARGV: P, after seq ('0': from the start), limit, now_s
    // -> { next cursor or '', id1, entry1, id2, entry2, ... }, live entries only
    private static let list = #"""
    local after, limit, now = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
    local out, n, last, more = {''}, 0, nil, false
    while not more do
      local page = redis.call('ZRANGEBYSCORE', K_SEQ, '(' .. after, '+inf', 'WITHSCORES', 'LIMIT', 0, 256)
      if #page == 0 then break end
      for i = 1, #page, 2 do
        local id, seq = page[i], page[i + 1]
        after = seq
        local cur = redis.call('HGET', K_REV, id)
        if cur then
          local _, _, u = decode(cur)
          if tonumber(u) >= now then
            if n == limit then more = true break end
            out[#out + 1] = id
            out[#out + 1] = cur
            n = n + 1
            last = seq
          end
        end
      end
    end
    if more then out[1] = last end
    return out
    """#

    // ARGV: P, now_s, batch -> how many expired entries were removed
    private static let expire = #"""
    local ids = redis.call('ZRANGEBYSCORE', K_UNTIL, '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
    for _, id in ipairs(ids) do del_rev(id) end
    return #ids
    """#

    // ARGV: P, sid, sub, claims, start, expires, rid, token hex, now, session ttl ms, token ttl ms
    private static let start = #"""
    local sk = P .. 'session:' .. ARGV[2]
    redis.call('HSET', sk, 'sub', ARGV[3], 'claims', ARGV[4], 'start', ARGV[5], 'expires', ARGV[6], 'rid', ARGV[7])
    redis.call('PEXPIRE', sk, ARGV[10])
    local tk = P .. 'token:' .. ARGV[8]
    redis.call('HSET', tk, 'sid', ARGV[2], 'issued', ARGV[9], 'rid', ARGV[7])
    redis.call('PEXPIRE', tk, ARGV[11])
    return 1
    """#

    // ARGV: P, token hex, successor hex, now ms, grace ms, refresh ttl ms, now_s, ttl slack ms
    // -> {'invalid'} | {'reuse'} | {'rotated' | 'replay', sid, sub, claims, start, expires, usedAt}
    private static let rotateBody = #"""
    local now, grace, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
    local tk = P .. 'token:' .. ARGV[2]
    local t = redis.call('HMGET', tk, 'sid', 'issued', 'used')
    if not t[1] then return {'invalid'} end
    local sid = t[1]
    local s = redis.call('HMGET', P .. 'session:' .. sid, 'sub', 'claims', 'start', 'expires', 'rid')
    if not s[1] then return {'invalid'} end
    local expires = tonumber(s[4])
    if now >= expires or now >= tonumber(t[2]) + ttl then return {'invalid'} end
    if session_revoked(s[5], s[1], tonumber(s[3]), tonumber(ARGV[7])) then return {'invalid'} end
    if not t[3] then
      redis.call('HSET', tk, 'used', ARGV[4])
      local nk = P .. 'token:' .. ARGV[3]
      redis.call('HSET', nk, 'sid', sid, 'issued', ARGV[4], 'rid', s[5])
      local life = math.min(now + ttl, expires) - now
      redis.call('PEXPIRE', nk, string.format('%d', life + tonumber(ARGV[8])))
      return {'rotated', sid, s[1], s[2], s[3], s[4], ARGV[4]}
    end
    if now - tonumber(t[3]) <= grace then
      return {'replay', sid, s[1], s[2], s[3], s[4], t[3]}
    end
    add_rev(s[5], 'sid', sid, '', ARGV[7], string.format('%d', math.ceil(expires / 1000)))
    return {'reuse'}
    """#

    // ARGV: P, 'sid' | 'token', sid or token hex, rid (sid mode), now_s, fallback until (unix s)
    // -> the sid ended, or nil when the token is unknown
    private static let end = #"""
    local sid, rid = ARGV[3], ARGV[4]
    if ARGV[2] == 'token' then
      local t = redis.call('HMGET', P .. 'token:' .. ARGV[3], 'sid', 'rid')
      if not t[1] then return false end
      sid, rid = t[1], t[2]
    end
    local e = redis.call('HGET', P .. 'session:' .. sid, 'expires')
    local untl = ARGV[6]
    if e then untl = string.format('%d', math.ceil(tonumber(e) / 1000)) end
    add_rev(rid, 'sid', sid, '', ARGV[5], untl)
    return sid
    """#
}
