import Triad
print("triad")
