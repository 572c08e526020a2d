"""Hand-written parallel sentences (English, German, French, Spanish) for alignment tests: distinct topics, so a
model that represents meaning should match each sentence with its own translation."""

ENGLISH = [
    "The cat is sleeping on the warm windowsill.",
    "We bought three kilos of oranges at the market.",
    "The train to Berlin leaves at nine o'clock.",
    "My grandmother plays the piano every evening.",
    "The football match was cancelled because of the storm.",
    "Doctors recommend drinking water throughout the day.",
    "The museum is closed on Mondays.",
    "He forgot his umbrella and got completely wet.",
    "The company hired twenty new engineers this year.",
    "Children are building a snowman in the garden.",
    "The volcano erupted and covered the village in ash.",
    "She is learning to program computers in Python.",
]
GERMAN = [
    "Die Katze schläft auf der warmen Fensterbank.",
    "Wir haben auf dem Markt drei Kilo Orangen gekauft.",
    "Der Zug nach Berlin fährt um neun Uhr ab.",
    "Meine Großmutter spielt jeden Abend Klavier.",
    "Das Fußballspiel wurde wegen des Sturms abgesagt.",
    "Ärzte empfehlen, den ganzen Tag über Wasser zu trinken.",
    "Das Museum ist montags geschlossen.",
    "Er hat seinen Regenschirm vergessen und wurde völlig nass.",
    "Die Firma hat dieses Jahr zwanzig neue Ingenieure eingestellt.",
    "Die Kinder bauen im Garten einen Schneemann.",
    "Der Vulkan brach aus und bedeckte das Dorf mit Asche.",
    "Sie lernt, Computer in Python zu programmieren.",
]
FRENCH = [
    "Le chat dort sur le rebord chaud de la fenêtre.",
    "Nous avons acheté trois kilos d'oranges au marché.",
    "Le train pour Berlin part à neuf heures.",
    "Ma grand-mère joue du piano tous les soirs.",
    "Le match de football a été annulé à cause de la tempête.",
    "Les médecins recommandent de boire de l'eau tout au long de la journée.",
    "Le musée est fermé le lundi.",
    "Il a oublié son parapluie et s'est fait complètement mouiller.",
    "L'entreprise a embauché vingt nouveaux ingénieurs cette année.",
    "Les enfants construisent un bonhomme de neige dans le jardin.",
    "Le volcan est entré en éruption et a couvert le village de cendres.",
    "Elle apprend à programmer des ordinateurs en Python.",
]
SPANISH = [
    "El gato duerme en el alféizar cálido de la ventana.",
    "Compramos tres kilos de naranjas en el mercado.",
    "El tren a Berlín sale a las nueve.",
    "Mi abuela toca el piano todas las noches.",
    "El partido de fútbol se canceló por la tormenta.",
    "Los médicos recomiendan beber agua durante todo el día.",
    "El museo cierra los lunes.",
    "Olvidó su paraguas y se mojó por completo.",
    "La empresa contrató a veinte ingenieros nuevos este año.",
    "Los niños están haciendo un muñeco de nieve en el jardín.",
    "El volcán entró en erupción y cubrió el pueblo de ceniza.",
    "Ella está aprendiendo a programar ordenadores en Python.",
]
TRANSLATIONS = {"de": GERMAN, "fr": FRENCH, "es": SPANISH}


def pairs_by_lang() -> dict[str, list[tuple[str, str]]]:
    return {lang: list(zip(ENGLISH, sentences)) for lang, sentences in TRANSLATIONS.items()}
