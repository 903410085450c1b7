"""Tests of URLPattern and of routing through an application.

Portable: runs under pytest and under ``tests/mpy_runner.py``.
"""

import support

from microdot import Microdot
from microdot.microdot import URLPattern
from microdot.test_client import TestClient


def _raises_value_error(function, *args):
    """Tell whether ``function(*args)`` raises ``ValueError``."""
    try:
        function(*args)
    except ValueError:
        return True
    return False


def _saved_types():
    return (
        dict(URLPattern.segment_patterns),
        dict(URLPattern.segment_parsers),
    )


def _restore_types(saved):
    URLPattern.segment_patterns = saved[0]
    URLPattern.segment_parsers = saved[1]


def _hex_parser(value):
    try:
        return int(value, 16)
    except ValueError:
        return None


# ----------------------------------------------------------------------------
# Static patterns
# ----------------------------------------------------------------------------


def test_static_match():
    pattern = URLPattern('/users/active')
    assert pattern.is_static
    assert pattern.match('/users/active') == {}


def test_static_no_match():
    pattern = URLPattern('/users/active')
    assert pattern.match('/users/inactive') is None
    assert pattern.match('/users') is None
    assert pattern.match('/users/active/x') is None
    assert pattern.match('/Users/active') is None


def test_static_root():
    pattern = URLPattern('/')
    assert pattern.match('/') == {}
    assert pattern.match('') is None
    assert pattern.match('//') is None


def test_static_trailing_slash_is_significant():
    assert URLPattern('/a').match('/a/') is None
    assert URLPattern('/a/').match('/a') is None
    assert URLPattern('/a/').match('/a/') == {}


# ----------------------------------------------------------------------------
# String components
# ----------------------------------------------------------------------------


def test_default_type_is_string():
    pattern = URLPattern('/users/<name>')
    assert not pattern.is_static
    assert pattern.match('/users/susan') == {'name': 'susan'}


def test_string_type():
    pattern = URLPattern('/users/<string:name>')
    assert pattern.match('/users/susan') == {'name': 'susan'}


def test_string_keeps_text_as_given():
    pattern = URLPattern('/users/<name>')
    assert pattern.match('/users/a b+c%é') == {'name': 'a b+c%é'}


def test_string_does_not_cross_slash():
    pattern = URLPattern('/users/<name>')
    assert pattern.match('/users/a/b') is None


def test_string_rejects_empty_segment():
    pattern = URLPattern('/users/<name>')
    assert pattern.match('/users/') is None
    assert pattern.match('/users') is None


def test_string_static_prefix_must_match():
    pattern = URLPattern('/users/<name>')
    assert pattern.match('/user/susan') is None
    assert pattern.match('/users2/susan') is None


def test_string_first_segment():
    pattern = URLPattern('/<name>')
    assert pattern.match('/susan') == {'name': 'susan'}
    assert pattern.match('/') is None


def test_dynamic_trailing_slash_is_significant():
    with_slash = URLPattern('/users/<name>/')
    without_slash = URLPattern('/users/<name>')
    assert with_slash.match('/users/susan/') == {'name': 'susan'}
    assert with_slash.match('/users/susan') is None
    assert without_slash.match('/users/susan/') is None


# ----------------------------------------------------------------------------
# Integer components
# ----------------------------------------------------------------------------


def test_int_positive():
    result = URLPattern('/n/<int:id>').match('/n/42')
    assert result == {'id': 42}
    assert type(result['id']) is int


def test_int_negative():
    assert URLPattern('/n/<int:id>').match('/n/-15') == {'id': -15}


def test_int_zero():
    assert URLPattern('/n/<int:id>').match('/n/0') == {'id': 0}


def test_int_negative_zero():
    assert URLPattern('/n/<int:id>').match('/n/-0') == {'id': 0}


def test_int_leading_zeros():
    assert URLPattern('/n/<int:id>').match('/n/007') == {'id': 7}


def test_int_rejects_decimal():
    assert URLPattern('/n/<int:id>').match('/n/1.5') is None


def test_int_rejects_leading_space():
    assert URLPattern('/n/<int:id>').match('/n/ 3') is None


def test_int_rejects_trailing_space():
    assert URLPattern('/n/<int:id>').match('/n/3 ') is None


def test_int_rejects_plus_sign():
    assert URLPattern('/n/<int:id>').match('/n/+3') is None


def test_int_rejects_underscore():
    assert URLPattern('/n/<int:id>').match('/n/3_0') is None


def test_int_rejects_letters():
    assert URLPattern('/n/<int:id>').match('/n/abc') is None
    assert URLPattern('/n/<int:id>').match('/n/12abc') is None


def test_int_rejects_empty():
    assert URLPattern('/n/<int:id>').match('/n/') is None


def test_int_rejects_minus_only():
    assert URLPattern('/n/<int:id>').match('/n/-') is None


def test_int_rejects_non_ascii_digits():
    pattern = URLPattern('/n/<int:id>')
    assert pattern.match('/n/\u0663') is None  # ARABIC-INDIC DIGIT THREE
    assert pattern.match('/n/\uff13') is None  # FULLWIDTH DIGIT THREE


def test_int_inside_segment():
    pattern = URLPattern('/v<int:n>/x')
    assert pattern.match('/v-12/x') == {'n': -12}
    assert pattern.match('/v0/x') == {'n': 0}


def test_int_inside_segment_rejects_invalid():
    pattern = URLPattern('/v<int:n>/x')
    assert pattern.match('/v+3/x') is None
    assert pattern.match('/v1.5/x') is None
    assert pattern.match('/v\u0663/x') is None
    assert pattern.match('/v/x') is None


# ----------------------------------------------------------------------------
# Path components
# ----------------------------------------------------------------------------


def test_path_captures_slashes():
    pattern = URLPattern('/files/<path:path>')
    assert pattern.match('/files/a/b/c.txt') == {'path': 'a/b/c.txt'}


def test_path_single_segment():
    pattern = URLPattern('/files/<path:path>')
    assert pattern.match('/files/a') == {'path': 'a'}


def test_path_keeps_trailing_slash():
    pattern = URLPattern('/files/<path:path>')
    assert pattern.match('/files/a/b/') == {'path': 'a/b/'}


def test_path_not_empty():
    pattern = URLPattern('/files/<path:path>')
    assert pattern.match('/files/') is None
    assert pattern.match('/files') is None


def test_path_in_middle():
    pattern = URLPattern('/files/<path:path>/raw')
    assert pattern.match('/files/a/b/raw') == {'path': 'a/b'}
    assert pattern.match('/files/raw') is None
    assert pattern.match('/files/a/b') is None


def test_path_whole_url():
    pattern = URLPattern('/<path:path>')
    assert pattern.match('/a/b') == {'path': 'a/b'}
    assert pattern.match('/') is None


# ----------------------------------------------------------------------------
# Regular expression components
# ----------------------------------------------------------------------------


def test_re_component_match():
    pattern = URLPattern('/users/<re:[a-z]+:name>')
    assert pattern.match('/users/abc') == {'name': 'abc'}


def test_re_component_no_match():
    pattern = URLPattern('/users/<re:[a-z]+:name>')
    assert pattern.match('/users/ABC') is None
    assert pattern.match('/users/abc1') is None
    assert pattern.match('/users/') is None
    assert pattern.match('/users/abc/') is None


def test_re_component_is_string():
    pattern = URLPattern('/n/<re:[0-9]+:n>')
    assert pattern.match('/n/12') == {'n': '12'}


def test_re_component_spec_example():
    pattern = URLPattern('/users/<re:[a-zA-Z][a-zA-Z0-9]*:username>')
    assert pattern.match('/users/Susan99') == {'username': 'Susan99'}
    assert pattern.match('/users/9susan') is None


def test_re_component_with_groups_then_another_component():
    pattern = URLPattern('/<re:(ab|cd)x:code>/<int:n>')
    assert pattern.match('/cdx/5') == {'code': 'cdx', 'n': 5}
    assert pattern.match('/abx/-7') == {'code': 'abx', 'n': -7}


def test_re_component_with_groups_rejects():
    pattern = URLPattern('/<re:(ab|cd)x:code>/<int:n>')
    assert pattern.match('/efx/5') is None
    assert pattern.match('/abx/five') is None


def test_re_component_with_nested_groups_then_two_components():
    pattern = URLPattern('/<re:((a)|(b))+:code>/<name>/<int:n>')
    assert pattern.match('/abba/x/3') == {'code': 'abba', 'name': 'x', 'n': 3}


def test_re_component_with_paren_in_class_then_another_component():
    pattern = URLPattern('/<re:[(]x:code>/<int:n>')
    assert pattern.match('/(x/5') == {'code': '(x', 'n': 5}


def test_re_component_with_escaped_paren_then_another_component():
    pattern = URLPattern('/<re:\\(x:code>/<int:n>')
    assert pattern.match('/(x/5') == {'code': '(x', 'n': 5}


def test_re_component_with_bracket_first_in_class():
    # MPY: its re cannot compile a class that starts with ']'
    support.cpython_only()
    pattern = URLPattern('/<re:[](]x:code>/<int:n>')
    assert pattern.match('/(x/5') == {'code': '(x', 'n': 5}
    assert pattern.match('/]x/6') == {'code': ']x', 'n': 6}


def test_re_component_may_cross_slash():
    pattern = URLPattern('/a/<re:.+:rest>')
    assert pattern.match('/a/b/c') == {'rest': 'b/c'}


# ----------------------------------------------------------------------------
# Several components, partial segments
# ----------------------------------------------------------------------------


def test_several_components():
    pattern = URLPattern('/users/<int:id>/posts/<slug>')
    assert pattern.match('/users/3/posts/hello') == {'id': 3, 'slug': 'hello'}


def test_several_components_no_match():
    pattern = URLPattern('/users/<int:id>/posts/<slug>')
    assert pattern.match('/users/x/posts/hello') is None
    assert pattern.match('/users/3/post/hello') is None
    assert pattern.match('/users/3/posts') is None
    assert pattern.match('/users/3/posts/hello/more') is None


def test_two_components_one_segment():
    pattern = URLPattern('/d/<int:a>-<int:b>')
    assert pattern.match('/d/3-4') == {'a': 3, 'b': 4}
    assert pattern.match('/d/3-x') is None


def test_component_not_filling_segment():
    pattern = URLPattern('/files/<name>.txt')
    assert pattern.match('/files/report.txt') == {'name': 'report'}


def test_component_not_filling_segment_no_match():
    pattern = URLPattern('/files/<name>.txt')
    assert pattern.match('/files/report.csv') is None
    assert pattern.match('/files/.txt') is None
    assert pattern.match('/files/a/b.txt') is None
    assert pattern.match('/files/report.txt/') is None


def test_literal_text_is_not_a_regex():
    pattern = URLPattern('/files/<name>.txt')
    assert pattern.match('/files/reportXtxt') is None


def test_literal_regex_specials_in_pattern():
    pattern = URLPattern('/a+b(c)$/v<name>.*')
    assert pattern.match('/a+b(c)$/vx.*') == {'name': 'x'}
    assert pattern.match('/aab(c)$/vx.*') is None
    assert pattern.match('/a+b(c)$/vx.y') is None


def test_literal_braces_in_pattern():
    pattern = URLPattern('/a{2}/v<name>')
    assert pattern.match('/a{2}/vx') == {'name': 'x'}
    assert pattern.match('/aa/vx') is None


# ----------------------------------------------------------------------------
# Custom types
# ----------------------------------------------------------------------------


def _check_matches(pattern, *cases):
    """Check ``pattern.match(path)`` for each ``(path, expected)`` case;
    an expected None means no match."""
    for path, expected in cases:
        result = pattern.match(path)
        if expected is None:
            assert result is None, path
        else:
            assert result == expected, path


def _check_custom_type(name, register_kwargs, text, *cases):
    """Register type ``name`` with ``register_type(name, **register_kwargs)``,
    check the matches of ``URLPattern(text)``, then restore the type tables."""
    saved = _saved_types()
    try:
        URLPattern.register_type(name, **register_kwargs)
        _check_matches(URLPattern(text), *cases)
    finally:
        _restore_types(saved)


def test_register_type_without_pattern():
    _check_custom_type(
        'hex', {'parser': _hex_parser}, '/h/<hex:value>',
        ('/h/ff', {'value': 255}),
        ('/h/10', {'value': 16}),
    )  # fmt: skip


def test_register_type_without_pattern_parser_none_no_match():
    _check_custom_type(
        'hex', {'parser': _hex_parser}, '/h/<hex:value>',
        ('/h/zz', None),
        ('/h/', None),
    )  # fmt: skip


def test_register_type_with_pattern():
    _check_custom_type(
        'hex',
        {'pattern': '[0-9a-fA-F]+', 'parser': lambda v: int(v, 16)},
        '/h/<hex:value>',
        ('/h/fF', {'value': 255}),
        ('/h/zz', None),
        ('/h/ffz', None),
    )


def test_register_type_pattern_only():
    _check_custom_type(
        'lower', {'pattern': '[a-z]+'}, '/l/<lower:word>',
        ('/l/abc', {'word': 'abc'}),
        ('/l/aBc', None),
    )  # fmt: skip


def test_register_type_inside_segment():
    _check_custom_type(
        'hex', {'parser': _hex_parser}, '/h/0x<hex:value>.bin',
        ('/h/0x1f.bin', {'value': 31}),
        ('/h/0xzz.bin', None),
    )  # fmt: skip


def test_register_type_parser_returning_none_no_match():
    _check_custom_type(
        'even',
        {
            'pattern': '[0-9]+',
            'parser': lambda v: int(v) if int(v) % 2 == 0 else None,
        },
        '/e/<even:n>/x',
        ('/e/4/x', {'n': 4}),
        ('/e/5/x', None),
    )


def test_register_type_with_groups_then_another_component():
    _check_custom_type(
        'pair', {'pattern': '(a|b)(c|d)'}, '/<pair:p>/<int:n>',
        ('/bd/8', {'p': 'bd', 'n': 8}),
    )  # fmt: skip


# ----------------------------------------------------------------------------
# Invalid patterns
# ----------------------------------------------------------------------------


def test_unknown_type_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<foo:x>')


def test_unknown_type_inside_segment_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/v<foo:x>.txt')


def test_unclosed_component_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<x')


def test_unclosed_component_before_segment_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<x/b')


def test_unclosed_component_inside_segment_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/v<int:x')


def test_empty_re_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<re::x>')


# ----------------------------------------------------------------------------
# URLPattern.head
# ----------------------------------------------------------------------------


def test_head_literal_first_segment():
    assert URLPattern('/users/<id>').head == 'users'
    assert URLPattern('/users/<int:id>/posts').head == 'users'
    assert URLPattern('/a/b/<c>').head == 'a'
    assert URLPattern('/files/<name>.txt').head == 'files'
    assert URLPattern('/api/<path:rest>').head == 'api'


def test_head_static_pattern_is_none():
    assert URLPattern('/users').head is None
    assert URLPattern('/users/active').head is None
    assert URLPattern('/').head is None


def test_head_dynamic_first_segment_is_none():
    assert URLPattern('/<id>').head is None
    assert URLPattern('/<id>/x').head is None
    assert URLPattern('/u<int:id>/x').head is None
    assert URLPattern('/<path:p>').head is None
    assert URLPattern('/<re:[a-z]+:x>/y').head is None


# ----------------------------------------------------------------------------
# Routing through an application
# ----------------------------------------------------------------------------


def _handler(text):
    async def handler(request, **kwargs):
        values = []
        for key in sorted(kwargs):
            values.append('%s=%r' % (key, kwargs[key]))
        return text + ' ' + ','.join(values) if values else text

    return handler


def _client(*routes):
    """A TestClient for an app with ``(pattern, text)`` routes, in order."""
    app = Microdot()
    for pattern, text in routes:
        app.route(pattern)(_handler(text))
    return TestClient(app)


async def _check_gets(client, *cases):
    """GET each ``(path, status, body)`` case and check status and body."""
    for path, status, body in cases:
        res = await client.get(path)
        assert res.status_code == status, path
        assert res.body == body, path


async def test_route_static_wins_over_earlier_dynamic():
    client = _client(('/users/<name>', 'dynamic'), ('/users/me', 'static'))
    await _check_gets(
        client,
        ('/users/me', 200, b'static'),
        ('/users/you', 200, b"dynamic name='you'"),
    )


async def test_route_dynamic_in_registration_order():
    client = _client(('/items/<int:id>', 'int'), ('/items/<name>', 'string'))
    await _check_gets(
        client,
        ('/items/5', 200, b'int id=5'),
        ('/items/five', 200, b"string name='five'"),
    )


async def test_route_dynamic_registration_order_reversed():
    client = _client(('/items/<name>', 'string'), ('/items/<int:id>', 'int'))
    await _check_gets(client, ('/items/5', 200, b"string name='5'"))


async def test_route_headless_dynamic_keeps_registration_order():
    client = _client(('/<a>/x', 'any'), ('/users/<b>', 'users'))
    await _check_gets(
        client,
        ('/users/x', 200, b"any a='users'"),
        ('/users/y', 200, b"users b='y'"),
        ('/other/x', 200, b"any a='other'"),
    )


async def test_route_headless_dynamic_after_headed_route():
    client = _client(('/users/<b>', 'users'), ('/<a>/x', 'any'))
    await _check_gets(
        client,
        ('/users/x', 200, b"users b='x'"),
        ('/other/x', 200, b"any a='other'"),
    )


async def test_route_int_argument_passed_as_int():
    client = _client(('/n/<int:n>', 'n'))
    await _check_gets(client, ('/n/-3', 200, b'n n=-3'))


async def test_route_no_match_404():
    client = _client(('/users/<int:id>', 'user'), ('/about', 'about'))
    for path in ('/', '/users/x', '/users', '/about/', '/users/1/x'):
        await _check_gets(client, (path, 404, b'Not Found'))


async def test_route_trailing_slash_significant():
    client = _client(('/a', 'no slash'), ('/b/', 'slash'))
    assert (await client.get('/a')).body == b'no slash'
    assert (await client.get('/a/')).status_code == 404
    assert (await client.get('/b/')).body == b'slash'
    assert (await client.get('/b')).status_code == 404


async def test_route_many_static_routes():
    routes = [('/<name>', 'dynamic')]
    for i in range(300):
        routes.append(('/s%d' % i, 'static %d' % i))
    client = _client(*routes)
    for i in (0, 1, 150, 298, 299):
        body = ('static %d' % i).encode()
        await _check_gets(client, ('/s%d' % i, 200, body))
    await _check_gets(
        client,
        ('/s300', 200, b"dynamic name='s300'"),
        ('/s1/x', 404, b'Not Found'),
    )


async def test_route_many_dynamic_routes_keep_order():
    routes = []
    for i in range(150):
        routes.append(('/d%d/<x>' % i, 'd%d' % i))
    routes.append(('/<a>/<b>', 'any'))
    for i in range(150, 300):
        routes.append(('/d%d/<x>' % i, 'd%d' % i))
    client = _client(*routes)
    # the catch-all was registered before /d150 to /d299
    for path, body in (
        ('/d0/q', b"d0 x='q'"),
        ('/d149/q', b"d149 x='q'"),
        ('/d200/q', b"any a='d200',b='q'"),
        ('/zz/q', b"any a='zz',b='q'"),
    ):
        assert (await client.get(path)).body == body, path
    assert (await client.get('/d5/q/r')).status_code == 404


def test_argument_name_spanning_segments_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<x/b>')


def test_argument_name_starting_with_digit_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<int:1x>')


def test_re_argument_without_name_raises_value_error():
    assert _raises_value_error(URLPattern, '/a/<re:[a-z]+:>')
