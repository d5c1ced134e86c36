"""Reading a user's JSONL (geoaug.records.iter_jsonl / parse_json_line): every failure is a RecordError that
names ``path:line`` and says why, whatever the cause. No torch needed."""

import json
import re

import pytest

from geoaug.records import RecordError, check_object, check_record, finite_number, iter_jsonl, parse_json_line

GOOD = b'{"image": "a.jpg", "objects": [{"label": "cat", "bbox": [1, 2, 10, 20]}]}'


def write(tmp_path, *lines: bytes, name='d.jsonl') -> str:
    path = tmp_path / name
    path.write_bytes(b'\n'.join(lines) + b'\n')
    return str(path)


def read_all(path):
    return [(n, rec) for n, _, rec in iter_jsonl(path)]


def bbox_line(coords: str) -> bytes:
    return b'{"image": "a.jpg", "objects": [{"label": "cat", "bbox": [' + coords.encode() + b']}]}'


def error_of(tmp_path, bad: bytes) -> str:
    """The message for ``bad`` as line 3 (a valid line, then a blank one, come first)."""
    path = write(tmp_path, GOOD, b'', bad)
    with pytest.raises(RecordError) as e:
        read_all(path)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert msg.startswith(f'{path}:3: '), msg
    return msg


@pytest.mark.parametrize(
    'bad,reason',
    [
        (b'{"image": "a\xffb.jpg"}', 'not valid UTF-8 at byte 13 of the line (0xff)'),
        (b'{"image": "caf\xc3"}', 'not valid UTF-8 at byte 15'),  # a truncated 2-byte sequence
        (b'{"image": ', 'not valid JSON (Expecting value at column 11)'),
        (b'{"image": "a.jpg"} x', 'not valid JSON (Extra data at column 20)'),
        (b'[' * 100_000 + b']' * 100_000, "nesting deeper than Python's JSON reader allows"),
        (bbox_line('1, 2, NaN, 9'), 'NaN/Infinity is not JSON (found NaN)'),
        (bbox_line('1, 2, Infinity, 9'), 'NaN/Infinity is not JSON (found Infinity)'),
        (bbox_line('-Infinity, 2, 3, 9'), 'NaN/Infinity is not JSON (found -Infinity)'),
        (bbox_line('1, 2, 1e999, 9'), 'number too large: 1e999'),
        (bbox_line('1, 2, -1E+999, 9'), 'number too large: -1E+999'),
        (bbox_line('1, 2, 0.0001e400, 9'), 'number too large: 0.0001e400'),
        (bbox_line(f'1, 2, {10**400}, 9'), 'number too large: 10000000000000000000... (401 digits)'),
        (bbox_line(f'1, 2, -{10**400}, 9'), 'number too large: -1000000000000000000... (401 digits)'),
        (bbox_line('1, 2, ' + '9' * 400 + '.5, 9'), 'number too large: 99999999999999999999... (402 characters)'),
        (bbox_line('1, 2, ' + '7' * 5000 + ', 9'), 'number too large: 77777777777777777777... (5000 digits)'),
        (b'{"image": "a\\ud800.jpg"}', 'a string holds a lone surrogate \\ud800, which is not valid Unicode'),
        (b'{"\\udfff": 1}', 'lone surrogate \\udfff'),
        (b'\xef\xbb\xbf' + GOOD, 'starts with a UTF-8 byte-order mark; only line 1 may'),
    ],
)
def test_every_intake_error_names_file_line_and_reason(tmp_path, bad, reason):
    msg = error_of(tmp_path, bad)
    assert reason in msg, msg


def test_the_error_class_is_the_callers(tmp_path):
    class MyError(ValueError):
        pass

    path = write(tmp_path, GOOD, bbox_line('1, 2, 1e999, 9'))
    with pytest.raises(MyError, match=r'd\.jsonl:2: number too large: 1e999'):
        list(iter_jsonl(path, error=MyError))
    with pytest.raises(MyError, match=r'^x\.jsonl:7: not valid UTF-8 at byte 1 '):
        parse_json_line(b'\x80', 'x.jsonl:7', MyError)


def test_numbers_at_the_edge_of_float_range_are_read_exactly():
    ok = [
        b'[1e308, -1.7976931348623157e308, 1e-999, 2.5E+3, 7e-1]',
        b'[' + b'1' + b'0' * 308 + b']',
        b'[0.' + b'1' * 400 + b']',
        b'["' + b'1' * 400 + b'"]',
        b'["e5", "E+1", "NaN-free", "Infinity!"]',
        b'["\\ud83d\\ude00", "\\u00e9", "\\\\ud800"]',
    ]  # a surrogate pair, an escape, a literal backslash
    for raw in ok:
        assert parse_json_line(raw, 'w') == json.loads(raw), raw
    assert parse_json_line(b'[1e-999]', 'w') == [0.0]


@pytest.mark.parametrize('offset', range(0, 80))
def test_a_long_number_is_caught_at_every_alignment(offset):
    """The reader samples the line for long digit runs rather than scanning every byte: prove no offset
    slips through, for the shortest number that overflows a float (309 digits)."""
    raw = b' ' * offset + b'[' + b'2' + b'0' * 308 + b']'
    with pytest.raises(RecordError, match=r'^w: number too large: 20000000000000000000\.\.\. \(309 digits\)$'):
        parse_json_line(raw, 'w')
    text_only = b' ' * offset + b'["' + b'2' + b'0' * 308 + b'"]'
    assert parse_json_line(text_only, 'w') == ['2' + '0' * 308]


def test_huge_numbers_inside_a_bbox_never_raise_a_foreign_error():
    """Past the reader too: finite_number and check_object handle ints that float() cannot hold."""
    assert finite_number(10**300) and not finite_number(10**400) and not finite_number(-(10**400))
    assert not finite_number(True) and not finite_number(float('inf')) and not finite_number('1')
    for obj in (
        {'label': 'a', 'bbox': [0, 0, 10**400, 5]},
        {'label': 'a', 'quad': [[0, 0], [10**400, 0], [1, 1], [0, 1]]},
        {'label': 'a', 'line': [[0, 0], [1, -(10**400)]]},
    ):
        with pytest.raises(RecordError, match=r'^r\.objects\[0\]\.(bbox|quad\[1\]|line\[1\]): expected'):
            check_object('r.objects[0]', obj)
    # An int past Python's int-string limit cannot even be repr'd: the message must still come out.
    with pytest.raises(RecordError, match=r'bbox: expected'):
        check_object('r', {'label': 'a', 'bbox': [0, 0, 10**5000, 5]})


def test_messages_show_a_bounded_value():
    with pytest.raises(RecordError) as e:
        check_record('r', {'image': 'a.jpg', 'objects': [{'label': 'a', 'bbox': list(range(100_000))}]})
    assert len(str(e.value)) < 300 and '...' in str(e.value)


def test_bom_on_line_1_blank_lines_and_crlf_are_fine(tmp_path):
    path = tmp_path / 'd.jsonl'
    path.write_bytes(b'\xef\xbb\xbf' + GOOD + b'\r\n\r\n   \t\r\n' + GOOD + b'\r\n\n')
    got = read_all(str(path))
    assert [n for n, _ in got] == [1, 4]
    assert got[0][1] == got[1][1] == json.loads(GOOD)
    path.write_bytes(b'\xef\xbb\xbf\n' + GOOD)  # a BOM alone on line 1: a blank line
    assert [n for n, _ in read_all(str(path))] == [2]


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, b'', GOOD, b'  ', b'', b'{"image": ')
    with pytest.raises(RecordError, match=re.escape(f'{path}:5: not valid JSON')):
        read_all(path)


def test_a_missing_file_is_a_record_error(tmp_path):
    with pytest.raises(RecordError, match=r'nope\.jsonl: cannot open'):
        list(iter_jsonl(str(tmp_path / 'nope.jsonl')))
