"""Tests of the core's helpers, data structures and bytes-level parsers.

Portable: runs under pytest and under ``tests/mpy_runner.py``.
"""

import support

import microdot
import microdot.microdot as core
from microdot.helpers import wraps
from microdot.microdot import (
    AsyncBytesIO,
    HTTPException,
    MultiDict,
    NoCaseDict,
    format_response_head,
    http_date,
    iscoroutine,
    parse_content_length,
    parse_cookies,
    parse_header_line,
    parse_query,
    parse_request_line,
    urldecode,
    urldecode_bytes,
    urldecode_str,
    urlencode,
)


def _raises_value_error(function, *args, **kwargs):
    """Tell whether ``function(*args, **kwargs)`` raises ``ValueError``."""
    try:
        function(*args, **kwargs)
    except ValueError:
        return True
    return False


def _http_status(function, arg):
    """Return the status code of the ``HTTPException`` that
    ``function(arg)`` raises, or ``None`` if it raises nothing."""
    try:
        function(arg)
    except HTTPException as exc:
        return exc.status_code
    return None


# ----------------------------------------------------------------------------
# urlencode / urldecode
# ----------------------------------------------------------------------------


def test_urlencode_keeps_unreserved_characters():
    text = 'ABCXYZabcxyz0123456789-._~'
    assert urlencode(text) == text


def test_urlencode_space_becomes_plus():
    assert urlencode('a b  c') == 'a+b++c'


def test_urlencode_plus_is_escaped():
    assert urlencode('a+b') == 'a%2Bb'


def test_urlencode_reserved_characters_are_escaped():
    assert urlencode('/?&=%#:') == '%2F%3F%26%3D%25%23%3A'


def test_urlencode_multibyte_utf8():
    assert urlencode('é€😀') == '%C3%A9%E2%82%AC%F0%9F%98%80'


def test_urlencode_bytes_input():
    assert urlencode(b'a b/\xff') == 'a+b%2F%FF'


def test_urlencode_empty():
    assert urlencode('') == ''


def test_urldecode_plus_becomes_space():
    assert urldecode('a+b++c') == 'a b  c'


def test_urldecode_percent_20_is_space():
    assert urldecode('a%20b') == 'a b'


def test_urldecode_escaped_plus_stays_plus():
    assert urldecode('a%2Bb+c') == 'a+b c'


def test_urldecode_plus_false_keeps_plus():
    assert urldecode('a+b%20c', plus=False) == 'a+b c'


def test_urldecode_without_escapes_returns_text():
    assert urldecode('abc') == 'abc'


def test_urldecode_text_after_escape_is_kept():
    assert urldecode('%41BC%42') == 'ABCB'


def test_urldecode_multibyte_utf8():
    assert urldecode('%C3%A9%E2%82%AC%F0%9F%98%80') == 'é€😀'


def test_urldecode_lower_case_hex():
    assert urldecode('%c3%a9') == 'é'


def test_urldecode_already_decoded_multibyte_text():
    assert urldecode('é+€') == 'é €'


def test_urlencode_urldecode_round_trip():
    text = 'a b+c/d?e=f&g%h é€😀 ~'
    assert urldecode(urlencode(text)) == text


def test_urldecode_bytes_input():
    result = urldecode(b'a%20b+c%C3%A9')
    assert result == 'a b cé'
    assert isinstance(result, str)


def test_urldecode_lone_percent_raises_value_error():
    assert _raises_value_error(urldecode, '%')


def test_urldecode_percent_at_end_raises_value_error():
    assert _raises_value_error(urldecode, 'abc%')


def test_urldecode_non_hex_first_digit_raises_value_error():
    assert _raises_value_error(urldecode, '%z1')


def test_urldecode_non_hex_second_digit_raises_value_error():
    assert _raises_value_error(urldecode, '%1z')


def test_urldecode_one_digit_raises_value_error():
    assert _raises_value_error(urldecode, '%1')


def test_urldecode_plus_after_percent_raises_value_error():
    assert _raises_value_error(urldecode, '%+1')


def test_urldecode_plus_after_percent_without_plus_raises_value_error():
    assert _raises_value_error(urldecode, '%+1', plus=False)


def test_urldecode_space_after_percent_raises_value_error():
    assert _raises_value_error(urldecode, '% 1')


def test_urldecode_double_percent_raises_value_error():
    assert _raises_value_error(urldecode, '%%41')


def test_urldecode_invalid_utf8_raises_value_error():
    assert _raises_value_error(urldecode, '%ff')


def test_urldecode_truncated_utf8_raises_value_error():
    assert _raises_value_error(urldecode, 'a%C3')


def test_urldecode_bytes_invalid_utf8_raises_value_error():
    assert _raises_value_error(urldecode, b'%ff')


def test_urldecode_bytes_invalid_escape_raises_value_error():
    assert _raises_value_error(urldecode, b'%z1')


def test_urldecode_str():
    assert urldecode_str('a+%41%C3%A9') == 'a Aé'


def test_urldecode_bytes():
    assert urldecode_bytes(b'a+%41%C3%A9') == 'a Aé'


def test_urldecode_str_invalid_raises_value_error():
    assert _raises_value_error(urldecode_str, '%1')


def test_urldecode_bytes_invalid_raises_value_error():
    assert _raises_value_error(urldecode_bytes, b'%ff')


# ----------------------------------------------------------------------------
# NoCaseDict
# ----------------------------------------------------------------------------


def test_nocasedict_get_item_any_case():
    d = NoCaseDict()
    d['Content-Type'] = 'text/html'
    assert d['content-type'] == 'text/html'
    assert d['CONTENT-TYPE'] == 'text/html'
    assert d['Content-Type'] == 'text/html'


def test_nocasedict_missing_key_raises_key_error():
    d = NoCaseDict({'A': 1})
    try:
        d['b']
    except KeyError:
        pass
    else:
        assert False, 'no KeyError'


def test_nocasedict_get_any_case():
    d = NoCaseDict({'Content-Type': 'text/html'})
    assert d.get('content-TYPE') == 'text/html'
    assert d.get('missing') is None
    assert d.get('missing', 'x') == 'x'


def test_nocasedict_contains_any_case():
    d = NoCaseDict({'Content-Type': 'text/html'})
    assert 'content-type' in d
    assert 'CONTENT-TYPE' in d
    assert 'Content-Length' not in d


def test_nocasedict_contains_key_with_none_value():
    d = NoCaseDict({'X-A': None})
    assert 'x-a' in d


def test_nocasedict_set_other_case_replaces_value():
    d = NoCaseDict()
    d['Content-Type'] = 'a'
    d['content-type'] = 'b'
    assert len(d) == 1
    assert d['CONTENT-TYPE'] == 'b'


def test_nocasedict_keeps_first_spelling_for_iteration():
    d = NoCaseDict()
    d['Content-Type'] = 'a'
    d['content-type'] = 'b'
    d['CONTENT-TYPE'] = 'c'
    assert list(d) == ['Content-Type']
    assert list(d.keys()) == ['Content-Type']
    assert list(d.items()) == [('Content-Type', 'c')]


def test_nocasedict_delete_any_case():
    d = NoCaseDict({'Content-Type': 'a', 'X': 'b'})
    del d['content-TYPE']
    assert 'Content-Type' not in d
    assert len(d) == 1
    assert list(d) == ['X']


def test_nocasedict_set_after_delete_uses_new_spelling():
    d = NoCaseDict({'Content-Type': 'a'})
    del d['content-type']
    d['CONTENT-type'] = 'b'
    assert list(d.items()) == [('CONTENT-type', 'b')]


def test_nocasedict_delete_missing_raises_key_error():
    d = NoCaseDict({'A': 1})
    try:
        del d['b']
    except KeyError:
        pass
    else:
        assert False, 'no KeyError'


def test_nocasedict_pop_any_case():
    d = NoCaseDict({'Content-Type': 'a', 'X': 'b'})
    assert d.pop('content-type') == 'a'
    assert 'Content-Type' not in d
    assert list(d) == ['X']


def test_nocasedict_pop_missing_with_default():
    d = NoCaseDict({'A': 1})
    assert d.pop('b', 'default') == 'default'
    assert d.pop('b', None) is None
    assert list(d.items()) == [('A', 1)]


def test_nocasedict_pop_missing_without_default_raises_key_error():
    d = NoCaseDict()
    try:
        d.pop('b')
    except KeyError:
        pass
    else:
        assert False, 'no KeyError'


def test_nocasedict_setdefault_existing_other_case():
    d = NoCaseDict({'Content-Type': 'a'})
    assert d.setdefault('content-type', 'b') == 'a'
    assert list(d.items()) == [('Content-Type', 'a')]


def test_nocasedict_setdefault_missing():
    d = NoCaseDict()
    assert d.setdefault('Content-Type', 'b') == 'b'
    assert d['content-type'] == 'b'
    assert list(d) == ['Content-Type']


def test_nocasedict_update_mixed_case():
    d = NoCaseDict({'Content-Type': 'a'})
    d.update({'content-type': 'b', 'X-One': '1'})
    assert len(d) == 2
    assert d['CONTENT-TYPE'] == 'b'
    assert d['x-one'] == '1'
    assert sorted(d) == ['Content-Type', 'X-One']


def test_nocasedict_update_keyword_arguments():
    d = NoCaseDict({'Host': 'a'})
    d.update(host='b', Other='c')
    assert d['HOST'] == 'b'
    assert d['other'] == 'c'
    assert sorted(d) == ['Host', 'Other']


def test_nocasedict_constructor_mixed_case_keeps_one_key():
    d = NoCaseDict({'Content-Type': 'a'})
    assert list(d.items()) == [('Content-Type', 'a')]


def test_nocasedict_copy_is_independent_nocasedict():
    d = NoCaseDict({'Content-Type': 'a'})
    c = d.copy()
    assert isinstance(c, NoCaseDict)
    c['content-type'] = 'b'
    c['X'] = 'y'
    assert d['content-type'] == 'a'
    assert 'x' not in d
    assert c['CONTENT-TYPE'] == 'b'
    assert sorted(c) == ['Content-Type', 'X']


def test_nocasedict_clear():
    d = NoCaseDict({'Content-Type': 'a'})
    d.clear()
    assert len(d) == 0
    d['content-type'] = 'b'
    assert list(d) == ['content-type']


def test_nocasedict_non_string_keys():
    d = NoCaseDict()
    d[1] = 'one'
    d[(2, 'A')] = 'two'
    assert d[1] == 'one'
    assert d.get(1) == 'one'
    assert 1 in d
    assert d[(2, 'A')] == 'two'
    assert (2, 'a') not in d
    del d[1]
    assert 1 not in d
    assert d.pop((2, 'A')) == 'two'
    assert len(d) == 0


# ----------------------------------------------------------------------------
# MultiDict
# ----------------------------------------------------------------------------


def test_multidict_setting_appends():
    m = MultiDict()
    m['a'] = '1'
    m['a'] = '2'
    assert len(m) == 1
    assert m.getlist('a') == ['1', '2']


def test_multidict_item_is_first_value():
    m = MultiDict()
    m['a'] = '1'
    m['a'] = '2'
    assert m['a'] == '1'


def test_multidict_missing_item_raises_key_error():
    m = MultiDict()
    try:
        m['a']
    except KeyError:
        pass
    else:
        assert False, 'no KeyError'


def test_multidict_constructor():
    m = MultiDict({'a': '1', 'b': '2'})
    assert m['a'] == '1'
    assert m.getlist('b') == ['2']


def test_multidict_get_default():
    m = MultiDict({'a': '1'})
    assert m.get('a') == '1'
    assert m.get('b') is None
    assert m.get('b', 'x') == 'x'


def test_multidict_get_type_conversion():
    m = MultiDict()
    m['n'] = '5'
    m['n'] = '6'
    assert m.get('n', type=int) == 5


def test_multidict_get_failed_conversion_returns_default():
    m = MultiDict({'n': 'five'})
    assert m.get('n', default=0, type=int) == 0
    assert m.get('n', type=int) is None


def test_multidict_getlist_missing():
    assert MultiDict().getlist('a') == []


def test_multidict_getlist_type_drops_failures():
    m = MultiDict()
    for value in ('1', 'x', '3', ''):
        m['n'] = value
    assert m.getlist('n', type=int) == [1, 3]


def test_multidict_getlist_is_a_copy():
    m = MultiDict({'a': '1'})
    values = m.getlist('a')
    values.append('2')
    assert m.getlist('a') == ['1']


def test_multidict_delete_removes_all_values():
    m = MultiDict()
    m['a'] = '1'
    m['a'] = '2'
    del m['a']
    assert 'a' not in m
    assert m.getlist('a') == []
    assert m.get('a') is None


def test_multidict_items_give_first_values():
    m = MultiDict()
    m['a'] = '1'
    m['a'] = '2'
    m['b'] = '3'
    assert sorted(m.items()) == [('a', '1'), ('b', '3')]


def test_multidict_values_give_first_values():
    m = MultiDict()
    m['a'] = '1'
    m['a'] = '2'
    m['b'] = '3'
    assert sorted(m.values()) == ['1', '3']


# ----------------------------------------------------------------------------
# AsyncBytesIO
# ----------------------------------------------------------------------------


async def test_asyncbytesio_read_all():
    stream = AsyncBytesIO(b'hello world')
    assert await stream.read() == b'hello world'
    assert await stream.read() == b''


async def test_asyncbytesio_read_n():
    stream = AsyncBytesIO(b'hello world')
    assert await stream.read(5) == b'hello'
    assert await stream.read(1) == b' '
    assert await stream.read(100) == b'world'
    assert await stream.read(1) == b''


async def test_asyncbytesio_readline():
    stream = AsyncBytesIO(b'one\r\ntwo\nthree')
    assert await stream.readline() == b'one\r\n'
    assert await stream.readline() == b'two\n'
    assert await stream.readline() == b'three'
    assert await stream.readline() == b''


async def test_asyncbytesio_readexactly():
    stream = AsyncBytesIO(b'abcdef')
    assert await stream.readexactly(4) == b'abcd'
    assert await stream.readexactly(2) == b'ef'


async def test_asyncbytesio_readexactly_short_raises_eof_error():
    stream = AsyncBytesIO(b'abc')
    try:
        await stream.readexactly(4)
    except EOFError:
        pass
    else:
        assert False, 'no EOFError'


async def test_asyncbytesio_write_getvalue():
    stream = AsyncBytesIO()
    stream.write(b'abc')
    stream.write(b'def')
    await stream.awrite(b'g')
    await stream.drain()
    assert stream.getvalue() == b'abcdefg'


def test_asyncbytesio_initial_getvalue():
    assert AsyncBytesIO(b'xyz').getvalue() == b'xyz'


# ----------------------------------------------------------------------------
# iscoroutine
# ----------------------------------------------------------------------------


async def _coroutine_function():
    return 1


def test_iscoroutine_coroutine_object():
    coro = _coroutine_function()
    try:
        assert iscoroutine(coro) is True
    finally:
        coro.close()


def test_iscoroutine_plain_values():
    assert iscoroutine(1) is False
    assert iscoroutine(None) is False
    assert iscoroutine('x') is False
    assert iscoroutine([]) is False
    assert iscoroutine(b'') is False


def test_iscoroutine_function_is_not_coroutine():
    assert iscoroutine(_coroutine_function) is False


# ----------------------------------------------------------------------------
# http_date
# ----------------------------------------------------------------------------


def test_http_date_epoch():
    assert http_date(0) == 'Thu, 01 Jan 1970 00:00:00 GMT'


def test_http_date_known_timestamp():
    assert http_date(1700000000) == 'Tue, 14 Nov 2023 22:13:20 GMT'


def test_http_date_leap_day():
    assert http_date(951782400) == 'Tue, 29 Feb 2000 00:00:00 GMT'


def test_http_date_float_seconds():
    assert http_date(1700000000.75) == 'Tue, 14 Nov 2023 22:13:20 GMT'


def test_http_date_now_format():
    text = http_date()
    assert len(text) == 29
    assert text[3:5] == ', '
    assert text.endswith(' GMT')


def test_http_date_naive_datetime_is_utc():
    support.cpython_only()
    import datetime

    when = datetime.datetime(2023, 11, 14, 22, 13, 20)
    assert http_date(when) == 'Tue, 14 Nov 2023 22:13:20 GMT'


def test_http_date_aware_datetime_converted_to_utc():
    support.cpython_only()
    import datetime

    zone = datetime.timezone(datetime.timedelta(hours=2))
    when = datetime.datetime(2023, 11, 15, 0, 13, 20, tzinfo=zone)
    assert http_date(when) == 'Tue, 14 Nov 2023 22:13:20 GMT'


# ----------------------------------------------------------------------------
# Package re-exports and helpers.wraps
# ----------------------------------------------------------------------------


def test_reexports_from_package():
    from microdot import (
        AsyncBytesIO,
        Microdot,
        Request,
        Response,
        URLPattern,
        abort,
        iscoroutine,
        redirect,
        send_file,
    )

    assert Microdot is core.Microdot
    assert Request is core.Request
    assert Response is core.Response
    assert abort is core.abort
    assert redirect is core.redirect
    assert send_file is core.send_file
    assert URLPattern is core.URLPattern
    assert AsyncBytesIO is core.AsyncBytesIO
    assert iscoroutine is core.iscoroutine


def test_package_version():
    version = microdot.__version__
    assert isinstance(version, str)
    parts = version.split('.')
    assert len(parts) >= 2
    assert parts[0].isdigit()
    assert parts[1].isdigit()


def _wrapped_function(a, b=2):
    """Docstring of the wrapped function."""
    return a + b


def test_wraps_returns_working_wrapper():
    def wrapper(*args, **kwargs):
        return _wrapped_function(*args, **kwargs) * 10

    decorated = wraps(_wrapped_function)(wrapper)
    assert decorated is wrapper
    assert decorated(1) == 30
    assert decorated(1, b=5) == 60


def test_wraps_copies_metadata_on_cpython():
    support.cpython_only()

    def wrapper(*args, **kwargs):
        return _wrapped_function(*args, **kwargs)

    decorated = wraps(_wrapped_function)(wrapper)
    assert decorated.__name__ == '_wrapped_function'
    assert decorated.__doc__ == 'Docstring of the wrapped function.'
    assert decorated.__wrapped__ is _wrapped_function


# ----------------------------------------------------------------------------
# parse_cookies
# ----------------------------------------------------------------------------


def test_parse_cookies_pairs():
    assert parse_cookies('a=1; b=2') == {'a': '1', 'b': '2'}


def test_parse_cookies_empty_value_kept():
    assert parse_cookies('a=; b=2') == {'a': '', 'b': '2'}


def test_parse_cookies_spaces_trimmed():
    assert parse_cookies('  a = 1 ;b=2  ;  c =3') == {
        'a': '1',
        'b': '2',
        'c': '3',
    }


def test_parse_cookies_quoted_value():
    assert parse_cookies('a="x y"; b=""') == {'a': 'x y', 'b': ''}


def test_parse_cookies_lone_quote_kept():
    assert parse_cookies('a="') == {'a': '"'}


def test_parse_cookies_value_with_equals():
    assert parse_cookies('token=abc==; b=1') == {'token': 'abc==', 'b': '1'}


def test_parse_cookies_pairs_without_equals_ignored():
    assert parse_cookies('flag; a=1; ; other') == {'a': '1'}


def test_parse_cookies_empty_name_ignored():
    assert parse_cookies('=x; a=1') == {'a': '1'}


def test_parse_cookies_empty_header():
    assert parse_cookies('') == {}


# ----------------------------------------------------------------------------
# parse_query
# ----------------------------------------------------------------------------


def test_parse_query_repeated_keys():
    args = parse_query('a=1&b=2&a=3')
    assert isinstance(args, MultiDict)
    assert args['a'] == '1'
    assert args.getlist('a') == ['1', '3']
    assert args.getlist('b') == ['2']


def test_parse_query_empty_pairs_skipped():
    args = parse_query('&&a=1&&b=2&')
    assert sorted(args.items()) == [('a', '1'), ('b', '2')]


def test_parse_query_key_without_value():
    args = parse_query('a&b=')
    assert sorted(args.items()) == [('a', ''), ('b', '')]


def test_parse_query_plus_is_space():
    args = parse_query('a+b=c+d')
    assert args.items() == [('a b', 'c d')]


def test_parse_query_percent_escapes():
    args = parse_query('q=%2B1%20%3D%26&name=%C3%A9')
    assert args['q'] == '+1 =&'
    assert args['name'] == 'é'


def test_parse_query_value_with_equals():
    assert parse_query('a=b=c').items() == [('a', 'b=c')]


def test_parse_query_bytes_input():
    args = parse_query(b'a=1&a=%C3%A9')
    assert args.getlist('a') == ['1', 'é']


def test_parse_query_empty():
    assert len(parse_query('')) == 0


def test_parse_query_invalid_escape_raises_400():
    assert _http_status(parse_query, 'a=%z1') == 400


def test_parse_query_invalid_escape_in_name_raises_400():
    assert _http_status(parse_query, '%1=a') == 400


def test_parse_query_invalid_utf8_raises_400():
    assert _http_status(parse_query, 'a=%ff') == 400


def test_parse_query_invalid_utf8_bytes_raises_400():
    assert _http_status(parse_query, b'a=\xff') == 400


# ----------------------------------------------------------------------------
# parse_content_length
# ----------------------------------------------------------------------------


def test_parse_content_length_valid():
    assert parse_content_length('0') == 0
    assert parse_content_length('3') == 3
    assert parse_content_length('16384') == 16384


def test_parse_content_length_eighteen_digits():
    assert parse_content_length('9' * 18) == 999999999999999999


def test_parse_content_length_leading_space_400():
    assert _http_status(parse_content_length, ' 3') == 400


def test_parse_content_length_trailing_space_400():
    assert _http_status(parse_content_length, '3 ') == 400


def test_parse_content_length_plus_sign_400():
    assert _http_status(parse_content_length, '+3') == 400


def test_parse_content_length_underscore_400():
    assert _http_status(parse_content_length, '3_0') == 400


def test_parse_content_length_negative_400():
    assert _http_status(parse_content_length, '-1') == 400


def test_parse_content_length_empty_400():
    assert _http_status(parse_content_length, '') == 400


def test_parse_content_length_list_400():
    assert _http_status(parse_content_length, '3, 3') == 400


def test_parse_content_length_non_ascii_digit_400():
    assert _http_status(parse_content_length, '\u0663') == 400


def test_parse_content_length_hex_400():
    assert _http_status(parse_content_length, '0x10') == 400


def test_parse_content_length_nineteen_digits_400():
    assert _http_status(parse_content_length, '1' * 19) == 400


# ----------------------------------------------------------------------------
# parse_request_line
# ----------------------------------------------------------------------------


def test_parse_request_line_with_crlf():
    line = b'GET /index.html?a=1 HTTP/1.1\r\n'
    assert parse_request_line(line) == ('GET', '/index.html?a=1', '1.1')


def test_parse_request_line_without_crlf():
    line = b'GET /index.html?a=1 HTTP/1.1'
    assert parse_request_line(line) == ('GET', '/index.html?a=1', '1.1')


def test_parse_request_line_with_bare_lf():
    line = b'POST /a HTTP/1.1\n'
    assert parse_request_line(line) == ('POST', '/a', '1.1')


def test_parse_request_line_http_10():
    line = b'GET / HTTP/1.0\r\n'
    assert parse_request_line(line) == ('GET', '/', '1.0')


def test_parse_request_line_asterisk_and_absolute_targets():
    assert parse_request_line(b'OPTIONS * HTTP/1.1\r\n') == (
        'OPTIONS',
        '*',
        '1.1',
    )
    assert parse_request_line(b'GET http://h:1/a HTTP/1.1\r\n') == (
        'GET',
        'http://h:1/a',
        '1.1',
    )


def test_parse_request_line_extension_method():
    line = b'M-SEARCH /x HTTP/1.1\r\n'
    assert parse_request_line(line) == ('M-SEARCH', '/x', '1.1')


def test_parse_request_line_empty_400():
    assert _http_status(parse_request_line, b'') == 400
    assert _http_status(parse_request_line, b'\r\n') == 400


def test_parse_request_line_method_only_400():
    assert _http_status(parse_request_line, b'GET\r\n') == 400


def test_parse_request_line_no_version_400():
    assert _http_status(parse_request_line, b'GET /\r\n') == 400


def test_parse_request_line_extra_part_400():
    line = b'GET / HTTP/1.1 extra\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_space_in_target_400():
    line = b'GET /a b HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_double_space_400():
    line = b'GET  / HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_leading_space_400():
    line = b' GET / HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_trailing_space_400():
    line = b'GET / HTTP/1.1 \r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_tab_separators_400():
    line = b'GET\t/\tHTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_lone_cr_400():
    line = b'GET / HTTP/1.1\r'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_method_not_token_400():
    assert _http_status(parse_request_line, b'G(T / HTTP/1.1\r\n') == 400
    assert _http_status(parse_request_line, b'G\x01T / HTTP/1.1\r\n') == 400
    assert _http_status(parse_request_line, b'G\xc3\xa9T / HTTP/1.1') == 400


def test_parse_request_line_lower_case_protocol_400():
    line = b'GET / http/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_other_protocol_400():
    line = b'GET / HTTPS/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_without_minor_400():
    line = b'GET / HTTP/1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_two_digit_minor_400():
    line = b'GET / HTTP/1.10\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_without_dot_400():
    line = b'GET / HTTP/11\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_comma_400():
    line = b'GET / HTTP/1,1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_non_digit_major_400():
    line = b'GET / HTTP/x.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_version_non_digit_minor_400():
    # RFC 9112 section 2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT
    line = b'GET / HTTP/1.x\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_http_2_505():
    line = b'GET / HTTP/2.0\r\n'
    assert _http_status(parse_request_line, line) == 505


def test_parse_request_line_http_3_505():
    line = b'GET / HTTP/3.0\r\n'
    assert _http_status(parse_request_line, line) == 505


def test_parse_request_line_control_character_in_target_400():
    line = b'GET /a\x01b HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_del_in_target_400():
    line = b'GET /a\x7fb HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_cr_in_target_400():
    line = b'GET /a\rb HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_nul_in_target_400():
    line = b'GET /a\x00b HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


def test_parse_request_line_invalid_utf8_target_400():
    line = b'GET /\xff HTTP/1.1\r\n'
    assert _http_status(parse_request_line, line) == 400


# ----------------------------------------------------------------------------
# parse_header_line
# ----------------------------------------------------------------------------


def test_parse_header_line_with_crlf():
    assert parse_header_line(b'Host: example.com\r\n') == (
        'host',
        'example.com',
    )


def test_parse_header_line_without_crlf():
    assert parse_header_line(b'Host: example.com') == ('host', 'example.com')


def test_parse_header_line_with_bare_lf():
    assert parse_header_line(b'Host: example.com\n') == ('host', 'example.com')


def test_parse_header_line_name_lower_cased():
    assert parse_header_line(b'X-CUSTOM-Thing: V\r\n') == (
        'x-custom-thing',
        'V',
    )


def test_parse_header_line_no_space_after_colon():
    assert parse_header_line(b'Content-Type:text/html\r\n') == (
        'content-type',
        'text/html',
    )


def test_parse_header_line_outer_whitespace_trimmed():
    assert parse_header_line(b'X-A: \t a \t b \t\r\n') == ('x-a', 'a \t b')


def test_parse_header_line_empty_value():
    assert parse_header_line(b'X-Empty:\r\n') == ('x-empty', '')
    assert parse_header_line(b'X-Empty:  \t \r\n') == ('x-empty', '')


def test_parse_header_line_value_with_colon():
    assert parse_header_line(b'Host: h:8080\r\n') == ('host', 'h:8080')


def test_parse_header_line_utf8_value():
    assert parse_header_line(b'X-Name: \xc3\xa9\r\n') == ('x-name', 'é')


def test_parse_header_line_missing_colon_400():
    line = b'Host example.com\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_empty_line_400():
    assert _http_status(parse_header_line, b'\r\n') == 400


def test_parse_header_line_empty_name_400():
    assert _http_status(parse_header_line, b': value\r\n') == 400


def test_parse_header_line_space_before_colon_400():
    line = b'Host : example.com\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_tab_before_colon_400():
    line = b'Host\t: example.com\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_obs_fold_space_400():
    assert _http_status(parse_header_line, b' continued\r\n') == 400
    assert _http_status(parse_header_line, b' X-A: b\r\n') == 400


def test_parse_header_line_obs_fold_tab_400():
    assert _http_status(parse_header_line, b'\tcontinued\r\n') == 400
    assert _http_status(parse_header_line, b'\tX-A: b\r\n') == 400


def test_parse_header_line_name_not_token_400():
    assert _http_status(parse_header_line, b'Ho(st: x\r\n') == 400
    assert _http_status(parse_header_line, b'Ho st: x\r\n') == 400
    assert _http_status(parse_header_line, b'H\xc3\xa9: x\r\n') == 400


def test_parse_header_line_control_character_in_value_400():
    line = b'X-A: a\x01b\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_nul_in_value_400():
    line = b'X-A: a\x00b\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_del_in_value_400():
    line = b'X-A: a\x7fb\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_cr_in_value_400():
    line = b'X-A: a\rb\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_lf_in_value_400():
    line = b'X-A: a\nb\r\n'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_lone_cr_at_end_400():
    line = b'X-A: ab\r'
    assert _http_status(parse_header_line, line) == 400


def test_parse_header_line_invalid_utf8_value_400():
    line = b'X-A: \xff\r\n'
    assert _http_status(parse_header_line, line) == 400


# ----------------------------------------------------------------------------
# format_response_head
# ----------------------------------------------------------------------------


def test_format_response_head_status_line_from_table():
    head = format_response_head('1.1', 200, None, {})
    assert head == b'HTTP/1.1 200 OK\r\n\r\n'


def test_format_response_head_http_10():
    head = format_response_head('1.0', 404, None, {})
    assert head == b'HTTP/1.0 404 Not Found\r\n\r\n'


def test_format_response_head_table_phrases():
    assert format_response_head('1.1', 413, None, {}) == (
        b'HTTP/1.1 413 Content Too Large\r\n\r\n'
    )
    assert format_response_head('1.1', 418, None, {}) == (
        b"HTTP/1.1 418 I'm a teapot\r\n\r\n"
    )
    assert format_response_head('1.1', 505, None, {}) == (
        b'HTTP/1.1 505 HTTP Version Not Supported\r\n\r\n'
    )


def test_format_response_head_custom_reason():
    head = format_response_head('1.1', 200, 'All Good', {})
    assert head == b'HTTP/1.1 200 All Good\r\n\r\n'


def test_format_response_head_unknown_code():
    head = format_response_head('1.1', 799, None, {})
    assert head == b'HTTP/1.1 799 N/A\r\n\r\n'


def test_format_response_head_one_header():
    head = format_response_head('1.1', 200, None, {'Content-Type': 'a/b'})
    assert head == b'HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\n'


def test_format_response_head_several_headers():
    head = format_response_head(
        '1.1', 201, None, {'Content-Length': '3', 'X-A': 'b', 'X-C': 'd'}
    )
    assert head.startswith(b'HTTP/1.1 201 Created\r\n')
    assert head.endswith(b'\r\n\r\n')
    lines = head[:-4].split(b'\r\n')[1:]
    assert sorted(lines) == [b'Content-Length: 3', b'X-A: b', b'X-C: d']


def test_format_response_head_non_string_value():
    head = format_response_head('1.1', 200, None, {'Content-Length': 42})
    assert head == b'HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n'


def test_format_response_head_list_value_repeated_lines():
    head = format_response_head(
        '1.1', 200, None, {'Set-Cookie': ['a=1', 'b=2; Path=/']}
    )
    assert head == (
        b'HTTP/1.1 200 OK\r\n'
        b'Set-Cookie: a=1\r\n'
        b'Set-Cookie: b=2; Path=/\r\n'
        b'\r\n'
    )


def test_format_response_head_nocasedict_keeps_spelling():
    headers = NoCaseDict({'Content-Type': 'a/b'})
    headers['content-type'] = 'c/d'
    head = format_response_head('1.1', 200, None, headers)
    assert head == b'HTTP/1.1 200 OK\r\nContent-Type: c/d\r\n\r\n'


def test_format_response_head_utf8_value():
    head = format_response_head('1.1', 200, None, {'X-Name': 'é'})
    assert head == b'HTTP/1.1 200 OK\r\nX-Name: \xc3\xa9\r\n\r\n'


def test_format_response_head_cr_in_value_raises_value_error():
    headers = {'X-A': 'a\rb'}
    assert _raises_value_error(format_response_head, '1.1', 200, None, headers)


def test_format_response_head_lf_in_value_raises_value_error():
    headers = {'X-A': 'a\nX-Evil: 1'}
    assert _raises_value_error(format_response_head, '1.1', 200, None, headers)


def test_format_response_head_crlf_in_list_item_raises_value_error():
    headers = {'Set-Cookie': ['a=1', 'b=2\r\nX-Evil: 1']}
    assert _raises_value_error(format_response_head, '1.1', 200, None, headers)


def test_format_response_head_crlf_in_reason_raises_value_error():
    assert _raises_value_error(
        format_response_head, '1.1', 200, 'OK\r\nX-Evil: 1', {}
    )


# ----------------------------------------------------------------------------
# JSON serialisation: orjson fast path and pure json path
# ----------------------------------------------------------------------------

_JSON_DATA = {
    'a': [1, -2, 2.5, None, True, False, 'x"y\\z'],
    'b': {'c': [], 'd': {}},
    'e': '',
    'f': 1000000000000000,
}


def _pure_json_dumps(data):
    """Run ``_json_dumps`` with the orjson fast path switched off."""
    saved = core._orjson
    core._orjson = None
    try:
        return core._json_dumps(data)
    finally:
        core._orjson = saved


def _require_orjson():
    support.cpython_only()
    try:
        import orjson  # noqa: F401
    except ImportError:
        support.skip('orjson is not installed')
    assert core._orjson is not None


def test_json_pure_path_compact():
    # a single key per dict: MicroPython dicts are not insertion-ordered
    data = {'a': [1, 2.5, None, True, False, 'x"y', {'b': []}, {}]}
    assert _pure_json_dumps(data) == (
        b'{"a":[1,2.5,null,true,false,"x\\"y",{"b":[]},{}]}'
    )


def test_json_pure_path_returns_bytes():
    assert _pure_json_dumps([1, 'a']) == b'[1,"a"]'


def test_json_fast_and_pure_paths_identical():
    _require_orjson()
    fast = core._json_dumps(_JSON_DATA)
    pure = _pure_json_dumps(_JSON_DATA)
    assert fast == pure
    assert fast == (
        b'{"a":[1,-2,2.5,null,true,false,"x\\"y\\\\z"],'
        b'"b":{"c":[],"d":{}},"e":"","f":1000000000000000}'
    )


def test_json_fast_and_pure_paths_identical_non_ascii():
    _require_orjson()
    data = {'name': 'é€😀'}
    assert core._json_dumps(data) == _pure_json_dumps(data)


def test_json_fast_path_falls_back_for_non_string_keys():
    _require_orjson()
    data = {1: 'a'}
    assert core._json_dumps(data) == b'{"1":"a"}'
    assert _pure_json_dumps(data) == b'{"1":"a"}'


def test_format_response_head_refuses_crlf_in_header_name():
    try:
        format_response_head('1.1', 200, None, {'X\r\nEvil': 'a'})
    except ValueError:
        pass
    else:
        assert False, 'a header name with CR LF was accepted'


def test_package_reexports_data_structures():
    assert microdot.MultiDict is MultiDict
    assert microdot.NoCaseDict is NoCaseDict
