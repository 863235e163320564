"""A client generated from the OpenAPI document (openapi-python-client) signs in, walks two-step
and lists the practice's users. Run by tests/it/generated_client.rs:

    python3 walk.py BASE_URL USERNAME PASSWORD

with the generated package `gatehouse_client` on PYTHONPATH. When the code is needed it prints
`code? <masked phone>` and reads the code from standard input; it ends by printing one line per
user of the directory, `user <username> <status>`, then `done`.
"""

import sys

from gatehouse_client import AuthenticatedClient, Client
from gatehouse_client.api.practice_administration import list_practice_users
from gatehouse_client.api.sign_up_and_sign_in import auth_verify_code, sign_in
from gatehouse_client.models import CodeBody, DirectoryBody, SessionStep, SignInBody


def main() -> None:
    base, username, password = sys.argv[1:4]
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    step = sign_in.sync(client=anonymous, body=SignInBody(username=username, password=password))
    if not isinstance(step, SessionStep):
        sys.exit(f"sign-in refused: {step}")
    if step.next_ != "two_step_code":
        sys.exit(f"expected the two-step code step, got {step.next_}")
    print(f"code? {step.masked_phone}", flush=True)
    code = sys.stdin.readline().strip()
    mid = AuthenticatedClient(base_url=base, token=step.session_token, raise_on_unexpected_status=True)
    step = auth_verify_code.sync(client=mid, body=CodeBody(code=code))
    if not isinstance(step, SessionStep) or step.next_ != "complete":
        sys.exit(f"two-step refused: {step}")
    signed_in = AuthenticatedClient(base_url=base, token=step.session_token, raise_on_unexpected_status=True)
    page = list_practice_users.sync(client=signed_in)
    if not isinstance(page, DirectoryBody):
        sys.exit(f"directory refused: {page}")
    for user in page.users:
        print(f"user {user.username} {user.status}")
    print("done", flush=True)


if __name__ == "__main__":
    main()
