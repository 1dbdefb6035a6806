"""Test application: a celery app on the instance's broker (CELERY_BROKER_URL).
The task records which instance's worker ran it, in that instance's data dir."""
import os

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True


@app.task
def mark(token):
    path = os.path.join(os.environ["DATA_DIR"], "done-" + token)
    with open(path, "w") as f:
        f.write(os.environ["DEPLOYKIT_INSTANCE"])
    return token
