// ZKSimulation
