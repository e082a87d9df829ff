"""``bigre mail`` and ``bigre members import --invite-all`` against a node folder and a real SMTP server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from node.cli import main
from node.config import create_node_dir
from node.demo.mail_catcher import MailCatcher, text_of


async def test_mail_cli_invites_lists_retries_and_sends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catcher = await MailCatcher(refuse_with="554 5.7.1 no thanks").start()
    try:
        node_dir = tmp_path / "node"
        create_node_dir(node_dir, name="coopaname", url="http://127.0.0.1:8400", display_name="Coopaname")
        config = json.loads((node_dir / "node.json").read_text())
        config.update(smtp_host="127.0.0.1", smtp_port=catcher.port, smtp_security="none")
        (node_dir / "node.json").write_text(json.dumps(config))

        async def bigre(*args: str) -> tuple[int, str]:
            code = await asyncio.to_thread(main, list(args))
            return code, capsys.readouterr().out

        code, out = await bigre("mail", "invite", str(node_dir), "lea@example.org", "--language", "en")
        assert code == 0 and "invitation mailed to lea@example.org" in out
        code, out = await bigre("mail", "send", str(node_dir))
        assert code == 0 and "sent 0 mails" in out  # refused for good (5xx)
        code, out = await bigre("mail", "list", str(node_dir), "--status", "failed")
        assert "failed" in out and "lea@example.org" in out and "554" in out
        mail_id = out.split("#", 1)[1].split()[0]
        catcher.refuse_with = None
        code, out = await bigre("mail", "retry", str(node_dir), mail_id)
        assert code == 0 and f"#{mail_id}" in out
        code, out = await bigre("mail", "send", str(node_dir))
        assert "sent 1 mails" in out
        [mail] = await catcher.wait_for(1)
        assert mail["Subject"] == "Your invitation to Coopaname on Bigre" and "/invitation/" in text_of(mail)
        # again for an account never activated: a fresh link
        code, out = await bigre("mail", "invite", str(node_dir), "lea@example.org")
        assert "mailed again" in out
        # a CSV import with --invite-all mails everyone imported
        csv_file = tmp_path / "members.csv"
        csv_file.write_text("email,display_name\nana@example.org,Ana\nsam@example.org,Sam\n", encoding="utf-8")
        links = tmp_path / "links.csv"
        code, out = await bigre("members", "import", str(node_dir), str(csv_file), "--invite-all",
                                "--invitations", str(links))  # fmt: skip
        assert code == 0 and "2 invitation mails queued" in out, out
        code, out = await bigre("mail", "send", str(node_dir))
        assert "sent 3 mails" in out
        received = await catcher.wait_for(4)
        assert sorted(str(m["To"]) for m in received[1:]) == ["ana@example.org", "lea@example.org", "sam@example.org"]
        ana = next(m for m in received if m["To"] == "ana@example.org")
        assert ana["Subject"] == "Votre invitation à Coopaname sur Bigre"
        assert next(line.split(",")[1] for line in links.read_text().splitlines() if "ana@" in line) in text_of(ana)
    finally:
        await catcher.stop()
