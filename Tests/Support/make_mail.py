#!/usr/bin/env python3
"""Writes test mail for sigctl's `test` command into OUTDIR:

  nested.eml   multipart/mixed: text, an alternative (text + HTML) and an
               attachment payload.bin holding MARKER-ALPHA-1234567
  rfc822.eml   a message with an attached message/rfc822 that carries a zip
               (archive.zip) whose inner.txt holds MARKER-BRAVO-7654321
  dkim.eml     the nested message with a DKIM-Signature header first
  ham.eml      a plain message with no marker
  box.mbox     three messages: nested, rfc822, ham
  Maildir/     cur/ with nested, new/ with ham, tmp/ with a stray file

Usage: python3 make_mail.py OUTDIR
"""
import email.message
import email.policy
import io
import os
import sys
import zipfile


def nested():
    m = email.message.EmailMessage()
    m["From"] = "a@example.invalid"
    m["To"] = "b@example.invalid"
    m["Subject"] = "nested"
    m.set_content("plain body")
    m.add_alternative("<html><body><p>html body</p></body></html>", subtype="html")
    m.add_attachment(b"attachment bytes MARKER-ALPHA-1234567 end", maintype="application",
                     subtype="octet-stream", filename="payload.bin")
    return m


def rfc822_with_zip():
    inner = email.message.EmailMessage()
    inner["From"] = "c@example.invalid"
    inner["To"] = "d@example.invalid"
    inner["Subject"] = "inner"
    inner.set_content("inner body")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner.txt", "zip content MARKER-BRAVO-7654321 end")
    inner.add_attachment(buf.getvalue(), maintype="application", subtype="zip", filename="archive.zip")
    outer = email.message.EmailMessage()
    outer["From"] = "a@example.invalid"
    outer["To"] = "b@example.invalid"
    outer["Subject"] = "outer"
    outer.set_content("see the attached message")
    outer.add_attachment(inner)
    return outer


def ham():
    m = email.message.EmailMessage()
    m["From"] = "friend@example.invalid"
    m["To"] = "b@example.invalid"
    m["Subject"] = "lunch"
    m.set_content("Lunch on Friday?")
    return m


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "Maildir", "cur"), exist_ok=True)
    os.makedirs(os.path.join(out, "Maildir", "new"), exist_ok=True)
    os.makedirs(os.path.join(out, "Maildir", "tmp"), exist_ok=True)
    policy = email.policy.SMTP
    files = {"nested.eml": nested(), "rfc822.eml": rfc822_with_zip(), "ham.eml": ham()}
    for name, message in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(message.as_bytes(policy=policy))
    with open(os.path.join(out, "dkim.eml"), "wb") as f:
        f.write(b"DKIM-Signature: v=1; a=rsa-sha256; d=example.invalid; s=sel; b=AAAA\r\n")
        f.write(nested().as_bytes(policy=policy))
    with open(os.path.join(out, "box.mbox"), "wb") as f:
        for message in (nested(), rfc822_with_zip(), ham()):
            f.write(b"From sender@example.invalid Sat Jan  1 00:00:00 2022\n")
            f.write(message.as_bytes())
            f.write(b"\n")
    with open(os.path.join(out, "Maildir", "cur", "1.host:2,S"), "wb") as f:
        f.write(nested().as_bytes(policy=policy))
    with open(os.path.join(out, "Maildir", "new", "2.host"), "wb") as f:
        f.write(ham().as_bytes(policy=policy))
    with open(os.path.join(out, "Maildir", "tmp", "3.host"), "wb") as f:
        f.write(b"half-delivered MARKER-ALPHA-1234567")


if __name__ == "__main__":
    main()
