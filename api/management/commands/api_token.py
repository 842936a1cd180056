from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Print the REST API token of a staff user or annotator, making it if they have none (docs/api.md). "
        "Scripts send it as 'Authorization: Token <key>'; it acts as its user. --reset replaces it (the old key "
        "stops working)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the token acts as (staff or a member of 'annotator').")
        parser.add_argument("--reset", action="store_true", help="Replace the user's token with a new one.")

    def handle(self, *args, username, reset, **options):
        from api.tokens import TokenRefused, issue_token

        try:
            token, made = issue_token(username, reset=reset)
        except TokenRefused as error:
            raise CommandError(str(error)) from None
        self.stderr.write(f"{'new' if made else 'existing'} token of {username}:")
        self.stdout.write(token.key)
