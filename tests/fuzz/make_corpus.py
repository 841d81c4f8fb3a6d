#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_codec into corpus/codec/ (run from anywhere).

Valid messages of the common types, data fields holding SOH, repeating groups,
and nasty inputs: truncations, wrong lengths and checksums, garbage, huge
numbers, NULs, leading junk. Deterministic, so re-running gives the same files.
"""
import os

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'corpus', 'codec')
os.makedirs(out, exist_ok=True)

SOH = b'\x01'


def fix(body, bs=b'FIX.4.4', bodylen=None, checksum=None):
    body = body.replace(b'|', SOH)
    head = b'8=' + bs + SOH + b'9=' + str(len(body) if bodylen is None else bodylen).encode() + SOH
    m = head + body
    cs = sum(m) % 256 if checksum is None else checksum
    return m + b'10=%03d' % cs + SOH


hdr = b'34=12|49=SENDER|52=20240102-03:04:05.123|56=TARGET|'
seeds = {
    'heartbeat': fix(b'35=0|' + hdr),
    'logon': fix(b'35=A|' + hdr + b'98=0|108=30|141=Y|553=user|554=secret|'),
    'logon_fixt': fix(b'35=A|' + hdr + b'98=0|108=30|1137=9|', bs=b'FIXT.1.1'),
    'new_order_single': fix(b'35=D|' + hdr + b'11=ORD1|55=AAPL|54=1|60=20240102-03:04:05|38=100|40=2|44=187.25|59=0|'),
    'execution_report': fix(b'35=8|' + hdr + b'37=O1|11=ORD1|17=E1|150=F|39=2|55=AAPL|54=1|38=100|32=100|31=187.24|151=0|14=100|6=187.24|60=20240102-03:04:05.123456789|'),
    'md_incremental_groups': fix(b'35=X|' + hdr + b'262=R|268=2|279=0|55=A|269=0|270=1.5|271=10|453=2|448=p|452=1|448=q|452=3|279=1|55=B|270=2|'),
    'md_group_count_wrong': fix(b'35=X|' + hdr + b'268=3|279=0|270=1|279=1|'),
    'raw_data_with_soh': fix(b'35=B|' + hdr + b'95=7|96=a|10=1|b|148=news|'),
    'signature_trailer': fix(b'35=0|' + hdr + b'93=3|89=|||'),
    'xml_data_header': fix(b'35=0|34=1|212=12|213=<a>|=|</a>|49=S|56=T|'),
    'encoded_text': fix(b'35=8|' + hdr + b'354=4|355=\xe2\x82\xac|58=x|'),
    'custom_data_pair': fix(b'35=X|' + hdr + b'5001=2|5002=||'),
    'data_len_too_long': fix(b'35=B|95=99|96=abc|'),
    'data_len_negative': fix(b'35=B|95=-1|96=abc|'),
    'data_len_huge': fix(b'35=B|95=99999999999999999999|96=abc|'),
    'sequence_reset': fix(b'35=4|' + hdr + b'43=Y|122=20240102-03:04:00|123=Y|36=20|'),
    'resend_request': fix(b'35=2|' + hdr + b'7=1|16=0|'),
    'reject': fix(b'35=3|' + hdr + b'45=5|371=44|372=D|373=6|58=Incorrect data format|'),
    'timestamps': fix(b'35=0|52=20161231-23:59:60|60=20240229-00:00:00.1|122=99991231-23:59:59|62=00000000-00:00:00|'),
    'decimals': fix(b'35=D|44=-0.000|38=007.50|99=.5|100=1.|101=999999999999999999|102=1e5|'),
    'month_year': fix(b'35=d|200=202403|200=20240229|200=202403w5|200=202403w9|'),
    'bad_checksum': fix(b'35=0|' + hdr, checksum=0),
    'body_length_short': fix(b'35=0|' + hdr, bodylen=10),
    'body_length_long': fix(b'35=0|' + hdr, bodylen=400),
    'body_length_huge': b'8=FIX.4.4\x019=99999999\x0135=0\x01',
    'body_length_zero': fix(b'', bodylen=0),
    'msgtype_not_third': fix(b'34=1|35=0|'),
    'msgtype_empty': fix(b'35=|34=1|'),
    'no_begin_string': b'9=5\x0135=0\x0110=000\x01',
    'empty_begin_string': fix(b'35=0|', bs=b''),
    'long_begin_string': fix(b'35=0|', bs=b'FIX.4.4.4.4.4.4.4.4.4'),
    'tag_zero': fix(b'35=0|0=x|'),
    'tag_overflow': fix(b'35=0|99999999999999=x|'),
    'tag_empty': fix(b'35=0|=x|'),
    'tag_no_equals': fix(b'35=0|58|'),
    'tag_letters': fix(b'35=0|5a8=x|'),
    'empty_values': fix(b'35=0|58=|112=|'),
    'nul_bytes': fix(b'35=0|58=a\x00b|'),
    'two_messages': fix(b'35=0|' + hdr) + fix(b'35=1|' + hdr + b'112=T|'),
    'leading_garbage': b'xx\x01\x018=FI' + fix(b'35=0|'),
    'garbage_only': bytes(range(256)),
    'truncated': fix(b'35=D|' + hdr + b'11=ORD1|')[:-9],
    'only_8': b'8=',
    'soh_only': SOH * 64,
    'many_fields': fix(b'35=0|' + b'58=x|' * 300),
    'long_value': fix(b'35=0|58=' + b'v' * 5000 + b'|'),
    'high_bytes': fix(b'35=0|58=\xff\xfe\x80|'),
    'checksum_letters': fix(b'35=0|')[:-4] + b'a1b\x01',
}
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'{len(seeds)} seeds in {os.path.relpath(out)}')
