package historygen

// The vocabulary of generated history.

var companies = []string{"Acme Industries", "Borealis Chemicals", "Corvid Steel", "Delta Paper", "Everline Foods"}

var cities = []string{"Lyon", "Gdansk", "Porto", "Graz", "Tampere", "Ostrava", "Bilbao", "Malmo", "Turin", "Ghent",
	"Leipzig", "Brno", "Aarhus", "Linz", "Cork"}

var firstNames = []string{"Anna", "Bruno", "Chloe", "Dario", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
	"Karin", "Luca", "Marta", "Nils", "Olga", "Pavel", "Rosa", "Stefan", "Tereza", "Ugo", "Vera", "Wojtek", "Yara", "Zoltan"}

var lastNames = []string{"Novak", "Lindqvist", "Moreau", "Rossi", "Kowalski", "Schmidt", "Silva", "Horvat", "Jensen",
	"Keller", "Dubois", "Ferreira", "Nowak", "Berger", "Costa", "Lehtinen", "Varga", "Peeters", "Wagner", "Marin"}

var machines = []string{"Pump", "Compressor", "Conveyor", "Boiler", "Extruder", "Press", "Mixer", "Chiller",
	"Turbine", "Valve", "Heat exchanger", "Robot arm", "Packaging line", "Filler", "Kiln", "Crusher"}

var problems = []string{"vibration", "overheating", "pressure drop", "leak", "alarm", "seal failure", "noise",
	"calibration", "jam", "misalignment", "power loss", "sensor fault", "inspection", "start-up", "changeover"}

var goals = []string{"Diagnose", "Restart", "Inspect", "Calibrate", "Replace seal of", "Realign", "Commission",
	"Check wiring of", "Update firmware of", "Clean"}

var notes = []string{"Bearing worn, replaced on site", "Operator trained on restart procedure",
	"Waiting for spare part from supplier", "Root cause: loose coupling", "Recalibrated sensor, readings normal",
	"Escalated to manufacturer support", "Temporary fix, schedule maintenance", "Filter clogged, cleaned"}

var chat = []string{"Can you point the camera at %s?", "Reading on %s is 4.2 bar", "I see oil near %s",
	"Try the reset on %s now", "Temperature of %s is back to normal", "Sending the manual for %s",
	"Please tighten the flange of %s", "Snapshot of %s taken", "%s restarted, listening for noise"}

var devices = []string{"desktop", "mobile_web", "app", "glasses"}

var labelGroups = []string{"Equipment", "Priority", "Department", "Customer"}

var labelNames = []string{"Mechanical", "Electrical", "Hydraulic", "Pneumatic", "Software", "Safety",
	"Urgent", "High", "Normal", "Low", "Planned", "Warranty",
	"Production", "Maintenance", "Quality", "Logistics", "Energy", "Utilities",
	"Internal", "Key account", "Distributor", "Contractor", "Pilot", "Audit"}

var colors = []string{"#d94f4f", "#4f8fd9", "#4fd98a", "#d9b84f"}
