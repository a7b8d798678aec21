"""Run jobs at once in threads, each like a request: its own session, committed at the end."""

import threading

from webapp.extensions import db


def in_threads(app, *jobs) -> list[Exception]:
    """Run each job in its own thread, all released together; return what they raised."""
    barrier, errors = threading.Barrier(len(jobs)), []

    def worker(job):
        with app.app_context():
            try:
                barrier.wait(timeout=30)  # before taking a connection from the pool
                job()
                db.session.commit()
            except Exception as exc:  # collected and asserted by the caller
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
