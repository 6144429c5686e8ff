"""Never becomes ready: importing the module blocks forever."""
import time

while True:
    time.sleep(1)
